//! A real SMTP receiver for tests: a small server on `127.0.0.1:<random port>` speaking enough
//! SMTP for a client such as lettre (EHLO/HELO, MAIL FROM, RCPT TO, DATA, RSET, NOOP, QUIT; no
//! authentication, no TLS). It records every message it accepts, and can be told to refuse
//! messages for a while (a server outage) to exercise retries.
//!
//! A message is recorded before its `250` reply goes out, so once the sender's delivery call has
//! returned, the message is here: tests need no waiting.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

/// One message the receiver accepted.
#[derive(Debug, Clone)]
pub struct ReceivedMail {
    /// The envelope sender (`MAIL FROM`).
    pub from: String,
    /// The envelope recipients (`RCPT TO`).
    pub recipients: Vec<String>,
    /// The message as transmitted (headers and body), dot-stuffing undone, CRLF line ends.
    pub data: String,
}

impl ReceivedMail {
    /// A top-level header's value, with folded lines joined.
    pub fn header(&self, name: &str) -> Option<String> {
        let (headers, _) = split_head(&self.data);
        header_in(headers, name)
    }

    pub fn subject(&self) -> Option<String> {
        self.header("Subject")
    }

    /// The decoded `text/plain` part (the whole body when the message is not multipart).
    pub fn text_part(&self) -> Option<String> {
        self.part("text/plain")
    }

    /// The decoded `text/html` part.
    pub fn html_part(&self) -> Option<String> {
        self.part("text/html")
    }

    /// The decoded part of a MIME type, searched through nested multiparts.
    pub fn part(&self, mime_type: &str) -> Option<String> {
        let (headers, body) = split_head(&self.data);
        find_part(headers, body, mime_type)
    }
}

fn split_head(message: &str) -> (&str, &str) {
    message.split_once("\r\n\r\n").unwrap_or((message, ""))
}

fn header_in(headers: &str, name: &str) -> Option<String> {
    let mut value: Option<String> = None;
    for line in headers.split("\r\n") {
        if line.starts_with([' ', '\t']) {
            if let Some(v) = value.as_mut() {
                v.push(' ');
                v.push_str(line.trim());
            }
            continue;
        }
        if value.is_some() {
            break;
        }
        if let Some((key, rest)) = line.split_once(':')
            && key.eq_ignore_ascii_case(name)
        {
            value = Some(rest.trim().to_owned());
        }
    }
    value
}

/// A parameter of a header value, e.g. `boundary` of `multipart/alternative; boundary="x"`.
fn parameter(value: &str, name: &str) -> Option<String> {
    value
        .split(';')
        .skip(1)
        .filter_map(|p| p.trim().split_once('='))
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.trim_matches('"').to_owned())
}

fn find_part(headers: &str, body: &str, mime_type: &str) -> Option<String> {
    let content_type = header_in(headers, "Content-Type").unwrap_or_else(|| "text/plain".to_owned());
    let essence = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    if essence.starts_with("multipart/") {
        let boundary = parameter(&content_type, "boundary")?;
        let delimiter = format!("--{boundary}");
        return body.split(delimiter.as_str()).skip(1).take_while(|part| !part.starts_with("--")).find_map(|part| {
            let part = part.strip_prefix("\r\n").unwrap_or(part);
            let part = part.strip_suffix("\r\n").unwrap_or(part);
            let (part_headers, part_body) = split_head(part);
            find_part(part_headers, part_body, mime_type)
        });
    }
    if essence != mime_type {
        return None;
    }
    let encoding = header_in(headers, "Content-Transfer-Encoding").unwrap_or_else(|| "7bit".to_owned()).to_ascii_lowercase();
    let bytes = match encoding.as_str() {
        "quoted-printable" => decode_quoted_printable(body),
        "base64" => decode_base64(body)?,
        _ => body.as_bytes().to_vec(),
    };
    String::from_utf8(bytes).ok()
}

fn decode_quoted_printable(text: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len());
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'=' if bytes.get(i + 1..i + 3) == Some(b"\r\n") => i += 3,
            b'=' if bytes.get(i + 1) == Some(&b'\n') => i += 2,
            b'=' => {
                let hex = bytes.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok()).and_then(|h| u8::from_str_radix(h, 16).ok());
                match hex {
                    Some(byte) => {
                        out.push(byte);
                        i += 3;
                    }
                    None => {
                        out.push(b'=');
                        i += 1;
                    }
                }
            }
            other => {
                out.push(other);
                i += 1;
            }
        }
    }
    out
}

fn decode_base64(text: &str) -> Option<Vec<u8>> {
    let value = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    };
    let symbols: Vec<u8> = text.bytes().filter(|c| !c.is_ascii_whitespace() && *c != b'=').collect();
    let mut out = Vec::with_capacity(symbols.len() * 3 / 4);
    for chunk in symbols.chunks(4) {
        let mut bits = 0u32;
        for (index, c) in chunk.iter().enumerate() {
            bits |= value(*c)? << (18 - 6 * index);
        }
        let bytes = bits.to_be_bytes();
        out.extend_from_slice(&bytes[1..chunk.len()]);
    }
    Some(out)
}

/// The test's SMTP server; it stops when dropped.
pub struct SmtpReceiver {
    port: u16,
    received: Arc<Mutex<Vec<ReceivedMail>>>,
    refusals_left: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl SmtpReceiver {
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind the SMTP receiver");
        let port = listener.local_addr().expect("local addr").port();
        let received = Arc::new(Mutex::new(Vec::new()));
        let refusals_left = Arc::new(AtomicUsize::new(0));
        let (store, refusals) = (received.clone(), refusals_left.clone());
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(serve_connection(stream, store.clone(), refusals.clone()));
            }
        });
        Self { port, received, refusals_left, task }
    }

    /// The `TRELLIS_SMTP_URL` that delivers here (plain SMTP on localhost).
    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}?tls=none", self.port)
    }

    /// Every message accepted so far, oldest first.
    pub fn messages(&self) -> Vec<ReceivedMail> {
        self.received.lock().map(|m| m.clone()).unwrap_or_default()
    }

    /// The messages accepted for `recipient`.
    pub fn messages_to(&self, recipient: &str) -> Vec<ReceivedMail> {
        self.messages().into_iter().filter(|m| m.recipients.iter().any(|r| r.eq_ignore_ascii_case(recipient))).collect()
    }

    /// Refuses the next `count` messages with a temporary error (451), like a server in trouble.
    pub fn refuse_next(&self, count: usize) {
        self.refusals_left.store(count, Ordering::SeqCst);
    }
}

impl Drop for SmtpReceiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The address inside `MAIL FROM:<a@b> SIZE=…` or `RCPT TO:<a@b>`.
fn angle_address(argument: &str) -> String {
    let start = argument.find('<').map_or(0, |i| i + 1);
    let end = argument[start..].find('>').map_or(argument.len(), |i| start + i);
    argument[start..end].trim().to_owned()
}

async fn serve_connection(stream: TcpStream, received: Arc<Mutex<Vec<ReceivedMail>>>, refusals_left: Arc<AtomicUsize>) {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read);
    if write.write_all(b"220 trellis-test ESMTP ready\r\n").await.is_err() {
        return;
    }
    let mut from: Option<String> = None;
    let mut recipients: Vec<String> = Vec::new();
    let mut line = String::new();
    loop {
        line.clear();
        match lines.read_line(&mut line).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let command = line.trim_end_matches(['\r', '\n']);
        let upper = command.to_ascii_uppercase();
        let answer: String = if upper.starts_with("EHLO") {
            "250-trellis-test\r\n250-8BITMIME\r\n250 PIPELINING\r\n".to_owned()
        } else if upper.starts_with("HELO") {
            "250 trellis-test\r\n".to_owned()
        } else if upper.starts_with("MAIL FROM:") {
            let refuse = refusals_left.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok();
            if refuse {
                "451 4.3.0 the test receiver refuses this message; try again later\r\n".to_owned()
            } else {
                from = Some(angle_address(&command[10..]));
                recipients.clear();
                "250 2.1.0 OK\r\n".to_owned()
            }
        } else if upper.starts_with("RCPT TO:") {
            if from.is_some() {
                recipients.push(angle_address(&command[8..]));
                "250 2.1.5 OK\r\n".to_owned()
            } else {
                "503 5.5.1 MAIL first\r\n".to_owned()
            }
        } else if upper == "DATA" {
            if from.is_none() || recipients.is_empty() {
                "503 5.5.1 RCPT first\r\n".to_owned()
            } else {
                if write.write_all(b"354 end with <CRLF>.<CRLF>\r\n").await.is_err() {
                    return;
                }
                let mut data = String::new();
                loop {
                    line.clear();
                    match lines.read_line(&mut line).await {
                        Ok(0) | Err(_) => return,
                        Ok(_) => {}
                    }
                    if line == ".\r\n" || line == ".\n" {
                        break;
                    }
                    // Dot-stuffing: a line starting with "." was sent with one more.
                    data.push_str(line.strip_prefix('.').unwrap_or(&line));
                }
                let mail = ReceivedMail { from: from.take().unwrap_or_default(), recipients: std::mem::take(&mut recipients), data };
                if let Ok(mut store) = received.lock() {
                    store.push(mail);
                }
                "250 2.0.0 accepted\r\n".to_owned()
            }
        } else if upper == "RSET" {
            from = None;
            recipients.clear();
            "250 2.0.0 reset\r\n".to_owned()
        } else if upper.starts_with("NOOP") {
            "250 2.0.0 OK\r\n".to_owned()
        } else if upper == "QUIT" {
            let _ = write.write_all(b"221 2.0.0 bye\r\n").await;
            return;
        } else {
            "502 5.5.2 command not implemented\r\n".to_owned()
        };
        if write.write_all(answer.as_bytes()).await.is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_of_a_multipart_message_are_found_and_decoded() {
        let data = "Subject: Hello\r\n there\r\nContent-Type: multipart/alternative;\r\n boundary=\"b1\"\r\n\r\n--b1\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nLink: https://x.example/a=3Db=\r\n&c\r\n--b1\r\nContent-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\nPGI+aGk8L2I+\r\n--b1--\r\n";
        let mail = ReceivedMail { from: String::new(), recipients: Vec::new(), data: data.to_owned() };
        assert_eq!(mail.subject().as_deref(), Some("Hello there"));
        assert_eq!(mail.text_part().as_deref(), Some("Link: https://x.example/a=b&c"));
        assert_eq!(mail.html_part().as_deref(), Some("<b>hi</b>"));
    }
}
