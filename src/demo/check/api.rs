//! The API checks: reports in (good and bad), then every JSON endpoint reading them back.

use std::time::Duration;

use serde_json::Value;

use super::checker::{Checker, REPORTS, TEAM_NAME};
use crate::simulate::{Profile, SimulatedTeam};

impl Checker {
    pub(super) fn post_reports(&mut self) -> Result<String, String> {
        let mut team = SimulatedTeam::new(&self.team_id, TEAM_NAME, Profile::Steady, 7);
        for n in 1..=REPORTS {
            let report = team.report_at(Duration::from_secs(5 * n));
            let answer = self.post(&self.team_headers(), report.to_string().as_bytes())?;
            answer.expect_status(200)?;
            let json = answer.json()?;
            if json["message"] != "Stats submitted successfully" || json["team_id"] != *self.team_id
            {
                return Err(format!("unexpected answer {json}"));
            }
            self.sent.push(report);
        }
        Ok(format!("{REPORTS} reports accepted"))
    }

    pub(super) fn post_invalid(&mut self) -> Result<String, String> {
        let mut report = self.last_sent()?.clone();
        report["latencyAnalysis"]["sensorData"]["buckets"][3] = Value::from("x");
        let answer = self.post(&self.team_headers(), report.to_string().as_bytes())?;
        answer.expect_status(400)?;
        let error = answer.json()?["error"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        if !error.contains("latencyAnalysis.sensorData.buckets[3]") {
            return Err(format!("the error does not name the field: {error:?}"));
        }
        Ok(format!("400 {error:?}"))
    }

    /// Registered mode: no token is 401 (with `WWW-Authenticate`), a wrong one 403,
    /// and neither stores anything.
    pub(super) fn post_without_token(&mut self) -> Result<String, String> {
        let body = self.last_sent()?.to_string();
        let id = ("X-Team-ID", self.team_id.clone());
        let missing = self.post(std::slice::from_ref(&id), body.as_bytes())?;
        missing.expect_status(401)?;
        let wrong = self.post(
            &[id, ("Authorization", "Bearer not-the-token".to_string())],
            body.as_bytes(),
        )?;
        wrong.expect_status(403)?;
        let total = self.get(&format!("/api/teams/{}/history/summary", self.team_id))?;
        let stored = total.json()?["total_reports"].as_u64().unwrap_or(0);
        if stored != self.sent.len() as u64 {
            return Err(format!("{stored} reports stored, {} sent", self.sent.len()));
        }
        Ok(format!(
            "401 {:?}, a wrong token 403",
            crate::client::error_message(&missing.body)
        ))
    }

    pub(super) fn post_without_id(&mut self) -> Result<String, String> {
        let body = self.last_sent()?.to_string();
        let answer = self.post(&[], body.as_bytes())?;
        answer.expect_status(400)?;
        Ok(format!(
            "400 {:?}",
            crate::client::error_message(&answer.body)
        ))
    }

    pub(super) fn teams(&mut self) -> Result<String, String> {
        let answer = self.get("/api/teams")?;
        answer.expect_status(200)?;
        let teams = answer.json()?;
        let list = teams.as_array().ok_or("expected an array of teams")?;
        let ours = list
            .iter()
            .find(|t| t["team_id"] == *self.team_id)
            .ok_or_else(|| format!("{} is not among {} teams", self.team_id, list.len()))?;
        if ours["team_name"] != TEAM_NAME {
            return Err(format!(
                "team_name is {}, expected {TEAM_NAME:?}",
                ours["team_name"]
            ));
        }
        Ok(format!(
            "{} teams, ours named {}",
            list.len(),
            ours["team_name"]
        ))
    }

    pub(super) fn team(&mut self) -> Result<String, String> {
        let answer = self.get(&format!("/api/teams/{}", self.team_id))?;
        answer.expect_status(200)?;
        let team = answer.json()?;
        let last = self.last_sent()?;
        if team["stats"]["totalSent"] != last["totalSent"] {
            return Err(format!(
                "stats.totalSent is {}, the last report sent {}",
                team["stats"]["totalSent"], last["totalSent"]
            ));
        }
        for key in [
            "avg_latency",
            "p99_latency",
            "high_priority_latency",
            "data_loss_rate",
        ] {
            if !team["metrics"][key].is_number() {
                return Err(format!("metrics.{key} is missing"));
            }
        }
        Ok(format!(
            "totalSent {}, p99 {:.1} ms",
            team["stats"]["totalSent"],
            team["metrics"]["p99_latency"].as_f64().unwrap_or_default()
        ))
    }

    pub(super) fn history(&mut self) -> Result<String, String> {
        let answer = self.get(&format!("/api/teams/{}/history?limit=2", self.team_id))?;
        answer.expect_status(200)?;
        let page = answer.json()?;
        let history = page["history"]
            .as_array()
            .ok_or("history is not an array")?;
        if page["total"] != REPORTS || history.len() != 2 || page["has_more"] != true {
            return Err(format!(
                "expected total {REPORTS}, 2 entries and has_more; got total {}, {} entries, has_more {}",
                page["total"],
                history.len(),
                page["has_more"]
            ));
        }
        if history[0]["stats"]["totalSent"] != self.last_sent()?["totalSent"] {
            return Err("the first entry is not the newest report".to_string());
        }
        Ok(format!("total {}, newest first", page["total"]))
    }

    pub(super) fn summary(&mut self) -> Result<String, String> {
        let answer = self.get(&format!("/api/teams/{}/history/summary", self.team_id))?;
        answer.expect_status(200)?;
        let summary = answer.json()?;
        let files = summary["recent_files"].as_array().map_or(0, Vec::len);
        if summary["total_reports"] != REPORTS || files != REPORTS as usize {
            return Err(format!(
                "expected {REPORTS} reports and files, got {} and {files}",
                summary["total_reports"]
            ));
        }
        Ok(format!(
            "{} reports in {}",
            REPORTS, summary["data_directory"]
        ))
    }

    pub(super) fn series(&mut self) -> Result<String, String> {
        let answer = self.get(&format!("/api/teams/{}/history/series", self.team_id))?;
        answer.expect_status(200)?;
        let series = answer.json()?;
        let points = series["series"].as_array().map_or(0, Vec::len);
        if series["total"] != REPORTS || points == 0 {
            return Err(format!(
                "expected {REPORTS} reports in the series, got total {} and {points} points",
                series["total"]
            ));
        }
        Ok(format!("{points} points"))
    }

    pub(super) fn export_csv(&mut self) -> Result<String, String> {
        let answer = self.get(&format!("/api/teams/{}/export.csv", self.team_id))?;
        answer.expect_status(200)?;
        if !answer.content_type.starts_with("text/csv") {
            return Err(format!("content type {}", answer.content_type));
        }
        let rows = answer.body.lines().count().saturating_sub(1);
        if rows != REPORTS as usize {
            return Err(format!("expected {REPORTS} rows, got {rows}"));
        }
        Ok(format!("{rows} rows"))
    }

    pub(super) fn unknown_team(&mut self) -> Result<String, String> {
        let answer = self.get(&format!("/api/teams/{}-nobody", self.team_id))?;
        answer.expect_status(404)?;
        let error = answer.json()?["error"].clone();
        if !error.is_string() {
            return Err(format!("no JSON error in {}", answer.body));
        }
        Ok(format!("404 {error}"))
    }
}
