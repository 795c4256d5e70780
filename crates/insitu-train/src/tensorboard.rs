//! TensorBoard scalar event files written by hand: TFRecord framing (length,
//! masked CRC-32C, payload, masked CRC-32C) around a minimal protobuf
//! `Event { wall_time, step, file_version | summary { value { tag, simple_value } } }`.

use crate::{Error, Result};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

/// CRC-32C (Castagnoli), reflected polynomial 0x82F63B78.
fn crc32c(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in data {
        crc ^= byte as u32;
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0x82F6_3B78
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// TFRecord's masked CRC, so that CRCs of CRCs stay well distributed.
fn masked_crc(data: &[u8]) -> u32 {
    let c = crc32c(data);
    (c.rotate_right(15)).wrapping_add(0xa282_ead8)
}

fn varint(mut v: u64, out: &mut Vec<u8>) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn bytes_field(field: u64, data: &[u8], out: &mut Vec<u8>) {
    varint((field << 3) | 2, out);
    varint(data.len() as u64, out);
    out.extend_from_slice(data);
}

fn event(wall_time: f64, step: i64, body: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
    let mut e = Vec::new();
    varint((1 << 3) | 1, &mut e); // wall_time: double
    e.extend_from_slice(&wall_time.to_le_bytes());
    varint(2 << 3, &mut e); // step: int64
    varint(step as u64, &mut e);
    body(&mut e);
    e
}

/// Appends scalar summaries to one `events.out.tfevents.*` file.
pub struct EventWriter {
    path: PathBuf,
    out: BufWriter<File>,
}

impl EventWriter {
    /// Creates `dir/events.out.tfevents.<unix seconds>.insitu.<suffix>` and
    /// writes the file-version header event.
    pub fn create(dir: &Path, suffix: &str) -> Result<EventWriter> {
        std::fs::create_dir_all(dir).map_err(|source| Error::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        let now = wall_time();
        let path = dir.join(format!(
            "events.out.tfevents.{}.insitu.{suffix}",
            now as u64
        ));
        let file = File::create(&path).map_err(|source| Error::Io {
            path: path.clone(),
            source,
        })?;
        let mut w = EventWriter {
            path,
            out: BufWriter::new(file),
        };
        let header = event(now, 0, |e| bytes_field(3, b"brain.Event:2", e));
        w.record(&header)?;
        Ok(w)
    }

    /// The event file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn record(&mut self, data: &[u8]) -> Result<()> {
        let len = (data.len() as u64).to_le_bytes();
        let mut buf = Vec::with_capacity(data.len() + 16);
        buf.extend_from_slice(&len);
        buf.extend_from_slice(&masked_crc(&len).to_le_bytes());
        buf.extend_from_slice(data);
        buf.extend_from_slice(&masked_crc(data).to_le_bytes());
        self.out.write_all(&buf).map_err(|source| Error::Io {
            path: self.path.clone(),
            source,
        })
    }

    /// Writes one scalar `tag` at `step`.
    pub fn scalar(&mut self, tag: &str, step: i64, value: f32) -> Result<()> {
        let mut v = Vec::new();
        bytes_field(1, tag.as_bytes(), &mut v);
        varint((2 << 3) | 5, &mut v); // simple_value: float
        v.extend_from_slice(&value.to_le_bytes());
        let mut summary = Vec::new();
        bytes_field(1, &v, &mut summary);
        let e = event(wall_time(), step, |e| bytes_field(5, &summary, e));
        self.record(&e)
    }

    /// Flushes buffered events to disk.
    pub fn flush(&mut self) -> Result<()> {
        self.out.flush().map_err(|source| Error::Io {
            path: self.path.clone(),
            source,
        })
    }
}

fn wall_time() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32c_matches_the_standard_check_value() {
        // RFC 3720 / the CRC catalogue: CRC-32C("123456789") = 0xE3069283.
        assert_eq!(crc32c(b"123456789"), 0xE306_9283);
    }

    #[test]
    fn records_are_framed_and_checksummed() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = EventWriter::create(dir.path(), "test").unwrap();
        w.scalar("train/loss", 3, 1.5).unwrap();
        w.flush().unwrap();
        let bytes = std::fs::read(w.path()).unwrap();
        let mut at = 0;
        let mut records = Vec::new();
        while at < bytes.len() {
            let len = u64::from_le_bytes(bytes[at..at + 8].try_into().unwrap()) as usize;
            assert_eq!(
                u32::from_le_bytes(bytes[at + 8..at + 12].try_into().unwrap()),
                masked_crc(&bytes[at..at + 8])
            );
            let data = &bytes[at + 12..at + 12 + len];
            assert_eq!(
                u32::from_le_bytes(bytes[at + 12 + len..at + 16 + len].try_into().unwrap()),
                masked_crc(data)
            );
            records.push(data.to_vec());
            at += 16 + len;
        }
        assert_eq!(records.len(), 2);
        assert!(records[0].windows(13).any(|w| w == b"brain.Event:2"));
        assert!(records[1].windows(10).any(|w| w == b"train/loss"));
        assert!(records[1].windows(4).any(|w| w == 1.5f32.to_le_bytes()));
    }
}
