//! The static archive of a contest (`benchboard-history archive -o DIR`): the final
//! standings, each team's page with its charts, best records and table of reports,
//! the CSV, all as files that open from `file://` or any static host.
//!
//! One render path: the pages are the live board's own (static/index.html with
//! app.js, team.html with team.js), their data inlined as JSON in the page
//! ([`inline`]) and read by static/archive.js instead of the server's API. [`pages`]
//! turns the live templates into the archive's, [`site`] writes the directory (in
//! full, or not at all). The command that fills it is
//! `crate::history::commands::archive`.
//!
//! ```text
//! DIR/index.html          the final standings (the board)
//! DIR/team/<id>.html      a team's page: summary, chart, latency histogram, reports
//! DIR/csv/<id>.csv        a team's reports as CSV; DIR/benchboard.csv every team's
//! DIR/static/…            the board's stylesheets and scripts
//! ```

pub mod inline;
pub mod pages;
pub mod site;
