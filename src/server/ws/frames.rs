//! The WebSocket frames the server writes (unmasked, so one encoding serves every
//! viewer) and a follower of the frames a client sends, only to notice its close.

use std::sync::Arc;

use tungstenite::protocol::frame::FrameHeader;
use tungstenite::protocol::frame::coding::{CloseCode, Control, Data, OpCode};

use crate::board::encoded::{Chunk, Encoded};
use crate::hub::Message as HubMessage;

/// Encoded frames, shared by every viewer they are written to: the frame headers and
/// the messages' own bytes (never copied per viewer, nor per batch).
pub(super) type Bytes = Arc<Encoded>;

/// Server-to-client frame header (unmasked) for a payload of `length` bytes.
fn frame_header(opcode: OpCode, length: usize) -> Vec<u8> {
    let header = FrameHeader {
        opcode,
        ..FrameHeader::default()
    };
    let mut bytes = Vec::with_capacity(header.len(length as u64));
    header
        .format(length as u64, &mut bytes)
        .expect("writing to a Vec cannot fail");
    bytes
}

/// Server-to-client frame (unmasked): header and payload.
pub(super) fn frame(opcode: OpCode, payload: &[u8]) -> Vec<u8> {
    let header = FrameHeader {
        opcode,
        ..FrameHeader::default()
    };
    let mut bytes = Vec::with_capacity(header.len(payload.len() as u64) + payload.len());
    header
        .format(payload.len() as u64, &mut bytes)
        .expect("writing to a Vec cannot fail");
    bytes.extend_from_slice(payload);
    bytes
}

/// One text frame per message, back to back; each frame's payload is the message's
/// shared bytes.
pub(super) fn text_frames(messages: &[HubMessage]) -> Bytes {
    let mut frames = Encoded::new();
    for message in messages {
        let header = frame_header(OpCode::Data(Data::Text), message.len());
        frames.push(Chunk::whole(header.into()));
        frames.push(Chunk::whole(Arc::<[u8]>::from(Arc::clone(message))));
    }
    Arc::new(frames)
}

/// One text frame of a text made of shared pieces (a `snapshot`).
pub(super) fn text_frame_of(text: &Encoded) -> Bytes {
    let mut frame = Encoded::new();
    let header = frame_header(OpCode::Data(Data::Text), text.len());
    frame.push(Chunk::whole(header.into()));
    frame.append(text);
    Arc::new(frame)
}

/// Frames already in one buffer (ping, close) as [`Bytes`].
pub(super) fn outgoing(bytes: Vec<u8>) -> Bytes {
    let mut frames = Encoded::new();
    frames.push(Chunk::whole(bytes.into()));
    Arc::new(frames)
}

/// A close frame with a code and a reason (cut to fit the 125-byte control frame).
pub(super) fn close_frame(code: CloseCode, reason: &str) -> Vec<u8> {
    let mut payload = u16::from(code).to_be_bytes().to_vec();
    let mut end = reason.len().min(123);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    payload.extend_from_slice(&reason.as_bytes()[..end]);
    frame(OpCode::Control(Control::Close), &payload)
}

/// Follows the frames a client sends, only to notice its close frame; payloads are
/// skipped unread.
#[derive(Default)]
pub(super) struct ClientFrames {
    header: [u8; 14],
    have: usize,
    skip: u64,
    /// A close frame (or something unparseable) was seen: the rest is not looked at.
    closed: bool,
}

impl ClientFrames {
    /// Takes the next bytes from the client; true once a close frame started (and for
    /// every call after it: later bytes are ignored).
    pub(super) fn feed(&mut self, mut data: &[u8]) -> bool {
        if self.closed {
            return true;
        }
        while !data.is_empty() {
            if self.skip > 0 {
                let n = data.len().min(self.skip.min(usize::MAX as u64) as usize);
                data = &data[n..];
                self.skip -= n as u64;
                continue;
            }
            self.header[self.have] = data[0];
            self.have += 1;
            data = &data[1..];
            let mut cursor = std::io::Cursor::new(&self.header[..self.have]);
            match FrameHeader::parse(&mut cursor) {
                Ok(Some((header, length))) => {
                    self.have = 0;
                    if header.opcode == OpCode::Control(Control::Close) {
                        self.closed = true;
                        return true;
                    }
                    self.skip = length;
                }
                Ok(None) if self.have < self.header.len() => {}
                // Not a frame we can follow: treat it like a close.
                _ => {
                    self.have = 0;
                    self.closed = true;
                    return true;
                }
            }
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tungstenite::protocol::frame::{CloseFrame, Frame};

    #[test]
    fn client_bytes_after_a_close_frame_are_ignored() {
        let mut frames = ClientFrames::default();
        let close = client_frame(Frame::close(None));
        assert!(frames.feed(&close));
        // A client that keeps sending after its close (or garbage): never a panic.
        for _ in 0..64 {
            assert!(frames.feed(&[0x81, 0xff, 0x00, 0x01]));
        }
        let mut garbage = ClientFrames::default();
        assert!(garbage.feed(&[0xff; 64]));
        assert!(garbage.feed(&[0x00; 4096]));
    }

    fn parse(bytes: &[u8]) -> Vec<(OpCode, Vec<u8>)> {
        let mut cursor = std::io::Cursor::new(bytes);
        let mut frames = Vec::new();
        while (cursor.position() as usize) < bytes.len() {
            let (header, length) = FrameHeader::parse(&mut cursor).unwrap().unwrap();
            assert_eq!(header.mask, None, "server frames are unmasked");
            let start = cursor.position() as usize;
            let end = start + length as usize;
            frames.push((header.opcode, bytes[start..end].to_vec()));
            cursor.set_position(end as u64);
        }
        frames
    }

    #[test]
    fn text_frames_of_every_length_class_parse_back() {
        let messages: Vec<HubMessage> = [5, 126, 70_000]
            .iter()
            .map(|&n| "x".repeat(n).into())
            .collect();
        let frames = parse(&text_frames(&messages).to_vec());
        assert_eq!(frames.len(), 3);
        for ((opcode, payload), message) in frames.iter().zip(&messages) {
            assert_eq!(*opcode, OpCode::Data(Data::Text));
            assert_eq!(payload, message.as_bytes());
        }
    }

    #[test]
    fn close_frame_carries_code_and_reason_within_125_bytes() {
        let frames = parse(&close_frame(
            CloseCode::Again,
            super::super::writer::FELL_BEHIND,
        ));
        assert_eq!(frames[0].0, OpCode::Control(Control::Close));
        assert_eq!(&frames[0].1[..2], &1013u16.to_be_bytes());
        assert_eq!(
            &frames[0].1[2..],
            super::super::writer::FELL_BEHIND.as_bytes()
        );
        let long = close_frame(CloseCode::Away, &"é".repeat(100));
        assert!(parse(&long)[0].1.len() <= 125);
    }

    fn client_frame(frame: Frame) -> Vec<u8> {
        let mut frame = frame;
        frame.header_mut().mask = Some([1, 2, 3, 4]);
        let mut bytes = Vec::new();
        frame.format(&mut bytes).unwrap();
        bytes
    }

    #[test]
    fn client_frames_notice_the_close_after_pongs_and_text_split_anywhere() {
        let mut stream = client_frame(Frame::pong(vec![7; 3]));
        stream.extend(client_frame(Frame::message(
            vec![b'a'; 70_000],
            OpCode::Data(Data::Text),
            true,
        )));
        let before_close = stream.len();
        stream.extend(client_frame(Frame::close(Some(CloseFrame {
            code: CloseCode::Normal,
            reason: "bye".into(),
        }))));
        for split in [1, 2, 7, 1000] {
            let mut frames = ClientFrames::default();
            let mut seen_at = None;
            for (i, chunk) in stream.chunks(split).enumerate() {
                if frames.feed(chunk) {
                    seen_at = Some(i * split);
                    break;
                }
            }
            let seen_at = seen_at.expect("close noticed");
            // noticed in a chunk holding part of the close frame's 6-byte header
            assert!(seen_at + split > before_close && seen_at < before_close + 6);
        }
    }
}
