//! The kiosk's QR code (`GET /qr.svg?url=...`): an SVG, drawn by the `qrcode` crate,
//! of the address phones in the room open to follow the board. The kiosk page asks
//! for its own address unless the organiser gave one (`/?kiosk&url=...`); without
//! `url` the code holds `http://<Host>/` of the request.

use super::error::ApiError;
use super::reply::{Reply, header};

/// Longest address a QR code is drawn for, in bytes (a code this long still scans
/// from across a room; longer ones need too many modules).
pub const MAX_QR_URL_BYTES: usize = 512;

/// Why no code can be drawn.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum QrError {
    /// Not an `http://` or `https://` address, or with spaces or control characters.
    #[error("url must be an http:// or https:// address without spaces, got {0:?}")]
    NotHttp(String),
    /// Longer than [`MAX_QR_URL_BYTES`].
    #[error("url is {0} bytes long: at most {MAX_QR_URL_BYTES} fit a QR code that scans from afar")]
    TooLong(usize),
}

/// Checks that `url` may become a QR code: an http(s) address of at most
/// [`MAX_QR_URL_BYTES`] bytes, with no whitespace or control character.
pub fn check_url(url: &str) -> Result<&str, QrError> {
    if url.len() > MAX_QR_URL_BYTES {
        return Err(QrError::TooLong(url.len()));
    }
    let lower = url.to_ascii_lowercase();
    let rest = lower
        .strip_prefix("https://")
        .or_else(|| lower.strip_prefix("http://"));
    if rest.is_none_or(str::is_empty) || url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(QrError::NotHttp(url.to_string()));
    }
    Ok(url)
}

/// The QR code of `url` as an SVG document (dark modules on white, a quiet zone
/// around them), scaled by the page: it has a `viewBox` and no fixed size.
pub fn qr_svg(url: &str) -> Result<String, QrError> {
    let url = check_url(url)?;
    // Medium error correction: a screen seen at an angle still scans.
    let code = qrcode::QrCode::with_error_correction_level(url.as_bytes(), qrcode::EcLevel::M)
        .map_err(|_| QrError::TooLong(url.len()))?;
    let svg = code
        .render::<qrcode::render::svg::Color>()
        .quiet_zone(true)
        .module_dimensions(1, 1)
        .build();
    // Let the page size the image: keep the viewBox, drop the fixed width and height.
    Ok(drop_fixed_size(&svg))
}

fn drop_fixed_size(svg: &str) -> String {
    let Some(start) = svg.find(" width=\"") else {
        return svg.to_string();
    };
    let Some(view_box) = svg[start..].find(" viewBox=") else {
        return svg.to_string();
    };
    format!("{}{}", &svg[..start], &svg[start + view_box..])
}

/// `GET /qr.svg?url=<address>`: the code of `url`, or of `http://<Host>/`.
pub fn qr_code(request: &tiny_http::Request, query: &str) -> Result<Reply, ApiError> {
    let given = form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == "url")
        .map(|(_, v)| v.into_owned());
    let url = match given {
        Some(url) => url,
        None => {
            let host = header(request, "Host").unwrap_or("localhost");
            format!("http://{host}/")
        }
    };
    let svg = qr_svg(&url).map_err(|e| ApiError::BadRequest(e.to_string()))?;
    let mut reply = Reply::bytes(200, "image/svg+xml", svg.into_bytes());
    reply
        .headers
        .push(("Cache-Control", "public, max-age=3600".into()));
    Ok(reply)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_an_svg_that_scales_with_the_page() {
        let svg = qr_svg("http://10.0.0.5:8080/").unwrap();
        assert!(svg.contains("<svg"), "{svg}");
        assert!(svg.contains("viewBox=\"0 0 "), "{svg}");
        let open_tag = &svg[..svg.find("viewBox").unwrap()];
        assert!(!open_tag.contains(" width="), "{svg}");
        assert!(svg.contains("<path fill=\"#000\" d=\"M"), "{svg}");
        // The address itself is not in the document: only modules are.
        assert!(!svg.contains("10.0.0.5"));
    }

    #[test]
    fn refuses_what_is_not_an_http_address() {
        for bad in [
            "javascript:alert(1)",
            "ftp://x/",
            "http://",
            "http://a b/",
            "x",
        ] {
            assert!(matches!(qr_svg(bad), Err(QrError::NotHttp(_))), "{bad}");
        }
        let long = format!("https://example.com/{}", "a".repeat(600));
        assert!(matches!(qr_svg(&long), Err(QrError::TooLong(_))));
        assert!(qr_svg("HTTPS://EXAMPLE.COM/?kiosk").is_ok());
    }
}
