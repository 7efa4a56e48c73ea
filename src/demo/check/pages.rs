//! The page checks: the dashboard, its assets, a team's history page and the WebSocket.

use std::io::{Read, Write};
use std::net::TcpStream;

use serde_json::Value;

use super::checker::{Checker, TEAM_NAME, TIMEOUT, linked_assets};

impl Checker {
    pub(super) fn dashboard(&mut self) -> Result<String, String> {
        let answer = self.get("/")?;
        answer.expect_status(200)?;
        if !answer.content_type.starts_with("text/html") {
            return Err(format!("content type is {:?}", answer.content_type));
        }
        Ok(format!("{} bytes of HTML", answer.body.len()))
    }

    pub(super) fn assets(&mut self) -> Result<String, String> {
        let page = self.get("/")?;
        let assets = linked_assets(&page.body);
        if assets.is_empty() {
            return Err("the dashboard links no script or style sheet".into());
        }
        for asset in &assets {
            let answer = self.get(asset)?;
            answer
                .expect_status(200)
                .map_err(|e| format!("{asset}: {e}"))?;
            if answer.body.is_empty() {
                return Err(format!("{asset} is empty"));
            }
        }
        Ok(format!(
            "{} linked assets: {}",
            assets.len(),
            assets.join(", ")
        ))
    }

    pub(super) fn history_page(&mut self) -> Result<String, String> {
        let answer = self.get(&format!("/team/{}/history", self.team_id))?;
        answer.expect_status(200)?;
        for asset in linked_assets(&answer.body) {
            self.get(&asset)?
                .expect_status(200)
                .map_err(|e| format!("{asset}: {e}"))?;
        }
        let escaped = crate::server::pages::escape_html(TEAM_NAME);
        if !answer.body.contains(&escaped) || answer.body.contains(TEAM_NAME) {
            return Err(format!(
                "the page does not carry the name escaped as {escaped:?}"
            ));
        }
        Ok(format!("carries {escaped:?}"))
    }

    pub(super) fn websocket(&mut self) -> Result<String, String> {
        let (tls, address) = match self.base.strip_prefix("https://") {
            Some(address) => (true, address.to_string()),
            None => (false, self.base.trim_start_matches("http://").to_string()),
        };
        let stream = TcpStream::connect(&address).map_err(|e| format!("connect {address}: {e}"))?;
        stream
            .set_read_timeout(Some(TIMEOUT))
            .and_then(|()| stream.set_write_timeout(Some(TIMEOUT)))
            .map_err(|e| e.to_string())?;
        let stream: Box<dyn ReadWrite> = match tls {
            true => Box::new(tls_stream(&address, stream)?),
            false => Box::new(stream),
        };
        let url = format!("{}://{address}/ws", if tls { "wss" } else { "ws" });
        let (mut socket, _) =
            tungstenite::client(url.as_str(), stream).map_err(|e| format!("{url}: {e}"))?;
        let message = socket
            .read()
            .map_err(|e| format!("reading the snapshot: {e}"))?;
        let _ = socket.close(None);
        let snapshot: Value = serde_json::from_str(message.to_text().unwrap_or_default())
            .map_err(|e| format!("the first message is not JSON: {e}"))?;
        if snapshot["type"] != "snapshot" {
            return Err(format!("the first message has type {}", snapshot["type"]));
        }
        let teams = snapshot["teams"]
            .as_array()
            .ok_or("the snapshot has no teams array")?;
        if !teams.iter().any(|t| t["team_id"] == *self.team_id) {
            return Err(format!(
                "{} is not among the snapshot's {} teams",
                self.team_id,
                teams.len()
            ));
        }
        Ok(format!("snapshot of {} teams", teams.len()))
    }
}

/// What the WebSocket check reads and writes: TCP, or TLS over it.
trait ReadWrite: Read + Write {}
impl<T: Read + Write> ReadWrite for T {}

/// A TLS client stream to `address` (`host:port`), trusting what the clients trust.
fn tls_stream(
    address: &str,
    stream: TcpStream,
) -> Result<rustls::StreamOwned<rustls::ClientConnection, TcpStream>, String> {
    let host = match address.rsplit_once(':') {
        Some((host, _)) => host.trim_start_matches('[').trim_end_matches(']'),
        None => address,
    };
    let name = rustls::pki_types::ServerName::try_from(host.to_string())
        .map_err(|e| format!("{host}: not a TLS server name: {e}"))?;
    let config = crate::client::rustls_client_config();
    let connection = rustls::ClientConnection::new(config, name).map_err(|e| e.to_string())?;
    Ok(rustls::StreamOwned::new(connection, stream))
}
