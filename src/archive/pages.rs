//! The archive's pages from the live board's templates: links made relative (the
//! archive may sit in any directory of any host, or on a disk), the push turned
//! off, and each page cut where its inlined data goes, just before its scripts.

use crate::server::pages::{INDEX_HTML, REPLAY_HTML, TEAM_HTML, escape_html, static_file};
use crate::team::TeamId;

/// The script that hands the inlined data to app.js and team.js (archive pages only).
const ARCHIVE_JS: &[u8] = include_bytes!("../../static/archive.js");

/// The files the pages load from `static/`.
const PAGE_ASSETS: [&str; 13] = [
    "style.css",
    "screen.css",
    "warnings.js",
    "kiosk.js",
    "app.js",
    "fit.js",
    "team.js",
    "replay.js",
    "replay.css",
    "contest.js",
    "contest.css",
    "reveal.js",
    "reveal.css",
];

/// The files of `DIR/static/`: (name, bytes).
pub fn assets() -> Vec<(&'static str, &'static [u8])> {
    let mut files: Vec<(&'static str, &'static [u8])> = PAGE_ASSETS
        .iter()
        .map(|name| {
            let bytes = static_file(name).expect("every page asset is embedded by the server");
            (*name, bytes)
        })
        .collect();
    files.push(("archive.js", ARCHIVE_JS));
    files
}

/// A page cut where its data goes: `head`, then the data element, then `tail`.
#[derive(Debug, Clone)]
pub struct Template {
    pub head: String,
    pub tail: String,
}

/// The board's page at the archive's root, showing up to `max_teams` cards.
pub fn board(max_teams: usize) -> Template {
    let page = INDEX_HTML
        .replace(r#"href="/?kiosk""#, r#"href="index.html?kiosk""#)
        .replace(r#"href="/replay""#, r#"href="replay.html""#)
        .replace("{{MAX_TEAMS}}", &max_teams.to_string())
        .replace("{{WEBSOCKET}}", "off");
    cut(&relocate(&page, ""), "")
}

/// The replay page at the archive's root; its timeline is inlined.
pub fn replay(max_teams: usize) -> Template {
    let mut page = REPLAY_HTML
        .replace(r#"href="/""#, r#"href="index.html""#)
        .replace("{{MAX_TEAMS}}", &max_teams.to_string());
    // replay.js drives app.js's board: it comes after it.
    if !page.contains("/static/replay.js") {
        page = page.replace(
            "</body>",
            "<script src=\"/static/replay.js\"></script>\n</body>",
        );
    }
    cut(&relocate(&page, ""), "")
}

/// A team's page, `team/<id>.html`; its name HTML-escaped as the server does it.
pub fn team(id: &TeamId, name: &str) -> Template {
    let page = TEAM_HTML
        .replace(
            r#"href="/api/teams/{{TEAM_ID}}/export.csv""#,
            r#"href="../csv/{{TEAM_ID}}.csv""#,
        )
        .replace(r#"href="/""#, r#"href="../index.html""#);
    // Names go in last: nothing in them is read as a link to rewrite.
    let page = relocate(&page, "../")
        .replace("{{TEAM_NAME}}", &escape_html(name))
        .replace("{{TEAM_ID}}", &escape_html(id.as_str()));
    cut(&page, "../")
}

/// The server's `/static/` links as links relative to a page `root` deep.
fn relocate(html: &str, root: &str) -> String {
    html.replace(r#"href="/static/"#, &format!(r#"href="{root}static/"#))
        .replace(r#"src="/static/"#, &format!(r#"src="{root}static/"#))
}

/// Cuts the page before its first script and puts archive.js first.
fn cut(html: &str, root: &str) -> Template {
    let at = html
        .find("<script src=")
        .expect("the board's pages load their scripts at the end");
    Template {
        head: html[..at].to_string(),
        tail: format!(
            "<script src=\"{root}static/archive.js\"></script>\n{}",
            &html[at..]
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn whole(t: &Template) -> String {
        format!("{}{}", t.head, t.tail)
    }

    #[test]
    fn pages_link_nothing_by_absolute_path() {
        let id = TeamId::parse("t-1").unwrap();
        for page in [
            whole(&board(6)),
            whole(&team(&id, "A <b>&</b>")),
            whole(&replay(6)),
        ] {
            for absolute in ["=\"/", "='/", "url(/"] {
                assert!(!page.contains(absolute), "{absolute} in {page}");
            }
            assert!(!page.contains("{{"), "{page}");
        }
        let page = whole(&team(&id, "A <b>&</b>"));
        assert!(page.contains("A &lt;b&gt;&amp;&lt;/b&gt;"));
        assert!(page.contains(r#"href="../csv/t-1.csv""#));
        let page = whole(&replay(6));
        assert_eq!(page.matches(r#"src="static/replay.js""#).count(), 1);
        assert!(page.find("static/app.js") < page.find("static/replay.js"));
    }

    #[test]
    fn every_asset_is_there() {
        let names: Vec<_> = assets().into_iter().map(|(n, _)| n).collect();
        assert_eq!(names.len(), PAGE_ASSETS.len() + 1);
    }
}
