//! NumPy `.npy` reader and `f32` writer.
//!
//! Supported on read: format versions 1.0, 2.0 and 3.0; dtypes `<i8`, `<i4`, `<f4`, `<f8`, `|u1`
//! (also spelled `<u1`/`>u1`/`u1`, byte order being irrelevant for one byte); C order only. Rejected
//! with an error naming the file: Fortran order, big-endian multi-byte dtypes, any other dtype,
//! truncated data and trailing bytes after the array.
//!
//! The writer produces version 1.0 files (`<f4`, C order) with the header padded to a multiple of
//! 64 bytes, exactly as `numpy.save` does.

use std::fs;
use std::path::{Path, PathBuf};

const MAGIC: &[u8; 6] = b"\x93NUMPY";

/// Errors of the `.npy` reader/writer; every variant names the file.
#[derive(Debug, thiserror::Error)]
pub enum NpyError {
    /// The file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// File path.
        path: PathBuf,
        /// Underlying error.
        source: std::io::Error,
    },
    /// Missing magic string or unsupported format version.
    #[error("{path}: not a NumPy .npy file ({reason})")]
    NotNpy {
        /// File path.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The header dictionary could not be parsed.
    #[error("{path}: malformed .npy header: {reason}")]
    Header {
        /// File path.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The array is stored in Fortran (column-major) order.
    #[error("{path}: fortran_order=True arrays are not supported (save with C order)")]
    FortranOrder {
        /// File path.
        path: PathBuf,
    },
    /// A dtype this reader does not handle (including big-endian multi-byte types).
    #[error("{path}: unsupported dtype {descr:?} (supported: <i8, <i4, <f4, <f8, |u1; big-endian is rejected)")]
    UnsupportedDtype {
        /// File path.
        path: PathBuf,
        /// The `descr` string from the header.
        descr: String,
    },
    /// The data section is shorter or longer than the header promises.
    #[error(
        "{path}: data section has {got} bytes, header shape {shape:?} of {descr} needs {expected}"
    )]
    DataLength {
        /// File path.
        path: PathBuf,
        /// Shape from the header.
        shape: Vec<usize>,
        /// dtype string.
        descr: String,
        /// Expected byte count.
        expected: usize,
        /// Actual byte count.
        got: usize,
    },
    /// The array holds a different type than the caller asked for.
    #[error("{path}: expected {expected}, found dtype {found}")]
    WrongType {
        /// File path.
        path: PathBuf,
        /// What the caller wanted.
        expected: String,
        /// The dtype in the file.
        found: String,
    },
    /// Writer: data length does not match the shape.
    #[error("{path}: shape {shape:?} needs {expected} values, got {got}")]
    ShapeMismatch {
        /// File path.
        path: PathBuf,
        /// Requested shape.
        shape: Vec<usize>,
        /// Product of the shape.
        expected: usize,
        /// Data length.
        got: usize,
    },
    /// An index-file value that cannot be a dataset index (negative).
    #[error("{path}: value {value} at position {position} is not a valid (non-negative) index")]
    NegativeIndex {
        /// File path.
        path: PathBuf,
        /// Position in the array.
        position: usize,
        /// The value.
        value: i64,
    },
}

/// Element data of an array, by dtype.
#[derive(Debug, Clone, PartialEq)]
pub enum NpyData {
    /// `<i8`
    I64(Vec<i64>),
    /// `<i4`
    I32(Vec<i32>),
    /// `<f4`
    F32(Vec<f32>),
    /// `<f8`
    F64(Vec<f64>),
    /// `|u1`
    U8(Vec<u8>),
}

impl NpyData {
    /// NumPy dtype string of this data.
    pub fn descr(&self) -> &'static str {
        match self {
            NpyData::I64(_) => "<i8",
            NpyData::I32(_) => "<i4",
            NpyData::F32(_) => "<f4",
            NpyData::F64(_) => "<f8",
            NpyData::U8(_) => "|u1",
        }
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        match self {
            NpyData::I64(v) => v.len(),
            NpyData::I32(v) => v.len(),
            NpyData::F32(v) => v.len(),
            NpyData::F64(v) => v.len(),
            NpyData::U8(v) => v.len(),
        }
    }

    /// True when there are no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A C-ordered array read from a `.npy` file.
#[derive(Debug, Clone, PartialEq)]
pub struct NpyArray {
    /// The file it came from (for error messages).
    pub path: PathBuf,
    /// Shape (empty for a 0-d scalar).
    pub shape: Vec<usize>,
    /// Elements in C order.
    pub data: NpyData,
}

impl NpyArray {
    /// The elements as `i64` (integer dtypes `<i8`, `<i4`, `|u1` only).
    pub fn to_i64_vec(&self) -> Result<Vec<i64>, NpyError> {
        match &self.data {
            NpyData::I64(v) => Ok(v.clone()),
            NpyData::I32(v) => Ok(v.iter().map(|&x| x as i64).collect()),
            NpyData::U8(v) => Ok(v.iter().map(|&x| x as i64).collect()),
            other => Err(NpyError::WrongType {
                path: self.path.clone(),
                expected: "an integer array".into(),
                found: other.descr().into(),
            }),
        }
    }

    /// The elements as `f32` (`<f4` exactly; `<f8` is narrowed with `as f32`).
    pub fn to_f32_vec(&self) -> Result<Vec<f32>, NpyError> {
        match &self.data {
            NpyData::F32(v) => Ok(v.clone()),
            NpyData::F64(v) => Ok(v.iter().map(|&x| x as f32).collect()),
            other => Err(NpyError::WrongType {
                path: self.path.clone(),
                expected: "a floating-point array".into(),
                found: other.descr().into(),
            }),
        }
    }
}

fn header_err(path: &Path, reason: impl Into<String>) -> NpyError {
    NpyError::Header {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

/// Minimal parser for the Python-literal header dict, e.g.
/// `{'descr': '<i8', 'fortran_order': False, 'shape': (5000,), }`.
struct HeaderParser<'a> {
    s: &'a [u8],
    pos: usize,
}

#[derive(Debug)]
enum PyValue {
    Str(String),
    Bool(bool),
    Tuple(Vec<usize>),
}

impl<'a> HeaderParser<'a> {
    fn skip_ws(&mut self) {
        while self.pos < self.s.len() && (self.s[self.pos] as char).is_ascii_whitespace() {
            self.pos += 1;
        }
    }

    fn expect(&mut self, c: u8) -> Result<(), String> {
        self.skip_ws();
        if self.s.get(self.pos) == Some(&c) {
            self.pos += 1;
            Ok(())
        } else {
            Err(format!("expected '{}' at byte {}", c as char, self.pos))
        }
    }

    fn peek(&mut self) -> Option<u8> {
        self.skip_ws();
        self.s.get(self.pos).copied()
    }

    fn string(&mut self) -> Result<String, String> {
        self.skip_ws();
        let quote = match self.s.get(self.pos) {
            Some(&q @ (b'\'' | b'"')) => q,
            _ => return Err(format!("expected a quoted string at byte {}", self.pos)),
        };
        self.pos += 1;
        let start = self.pos;
        while self.pos < self.s.len() && self.s[self.pos] != quote {
            self.pos += 1;
        }
        if self.pos >= self.s.len() {
            return Err("unterminated string".into());
        }
        let out = String::from_utf8_lossy(&self.s[start..self.pos]).into_owned();
        self.pos += 1;
        Ok(out)
    }

    fn value(&mut self) -> Result<PyValue, String> {
        match self.peek() {
            Some(b'\'' | b'"') => Ok(PyValue::Str(self.string()?)),
            Some(b'(') => {
                self.pos += 1;
                let mut dims = Vec::new();
                loop {
                    match self.peek() {
                        Some(b')') => {
                            self.pos += 1;
                            break;
                        }
                        Some(b',') => {
                            self.pos += 1;
                        }
                        Some(c) if c.is_ascii_digit() => {
                            let start = self.pos;
                            while self.pos < self.s.len() && self.s[self.pos].is_ascii_digit() {
                                self.pos += 1;
                            }
                            // Python 2 era files may write longs as "5000L".
                            let text = std::str::from_utf8(&self.s[start..self.pos])
                                .map_err(|e| e.to_string())?;
                            let d: usize = text
                                .parse()
                                .map_err(|_| format!("bad dimension {text:?}"))?;
                            if self.s.get(self.pos) == Some(&b'L') {
                                self.pos += 1;
                            }
                            dims.push(d);
                        }
                        _ => return Err(format!("bad shape tuple at byte {}", self.pos)),
                    }
                }
                Ok(PyValue::Tuple(dims))
            }
            _ => {
                let rest = &self.s[self.pos..];
                if rest.starts_with(b"True") {
                    self.pos += 4;
                    Ok(PyValue::Bool(true))
                } else if rest.starts_with(b"False") {
                    self.pos += 5;
                    Ok(PyValue::Bool(false))
                } else {
                    Err(format!("unsupported value at byte {}", self.pos))
                }
            }
        }
    }

    fn dict(&mut self) -> Result<Vec<(String, PyValue)>, String> {
        self.expect(b'{')?;
        let mut items = Vec::new();
        loop {
            match self.peek() {
                Some(b'}') => {
                    self.pos += 1;
                    break;
                }
                Some(b',') => {
                    self.pos += 1;
                }
                Some(_) => {
                    let key = self.string()?;
                    self.expect(b':')?;
                    let value = self.value()?;
                    items.push((key, value));
                }
                None => return Err("unterminated header dict".into()),
            }
        }
        Ok(items)
    }
}

struct Header {
    descr: String,
    fortran: bool,
    shape: Vec<usize>,
}

fn parse_header(path: &Path, text: &[u8]) -> Result<Header, NpyError> {
    let mut p = HeaderParser { s: text, pos: 0 };
    let items = p.dict().map_err(|r| header_err(path, r))?;
    let (mut descr, mut fortran, mut shape) = (None, None, None);
    for (k, v) in items {
        match (k.as_str(), v) {
            ("descr", PyValue::Str(s)) => descr = Some(s),
            ("fortran_order", PyValue::Bool(b)) => fortran = Some(b),
            ("shape", PyValue::Tuple(t)) => shape = Some(t),
            (key, value) => {
                return Err(header_err(
                    path,
                    format!("unexpected entry {key:?}: {value:?}"),
                ))
            }
        }
    }
    Ok(Header {
        descr: descr.ok_or_else(|| header_err(path, "missing 'descr'"))?,
        fortran: fortran.ok_or_else(|| header_err(path, "missing 'fortran_order'"))?,
        shape: shape.ok_or_else(|| header_err(path, "missing 'shape'"))?,
    })
}

/// Parses an in-memory `.npy` file; `path` is only used in error messages.
pub fn parse_npy(path: &Path, bytes: &[u8]) -> Result<NpyArray, NpyError> {
    let not_npy = |reason: &str| NpyError::NotNpy {
        path: path.to_path_buf(),
        reason: reason.into(),
    };
    if bytes.len() < 10 || &bytes[..6] != MAGIC {
        return Err(not_npy("missing \\x93NUMPY magic"));
    }
    let major = bytes[6];
    let (header_len, header_start) = match major {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10),
        2 | 3 => {
            if bytes.len() < 12 {
                return Err(not_npy("truncated header length"));
            }
            (
                u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize,
                12,
            )
        }
        v => {
            return Err(not_npy(&format!(
                "unsupported format version {v}.{}",
                bytes[7]
            )))
        }
    };
    let data_start = header_start + header_len;
    if bytes.len() < data_start {
        return Err(not_npy("file ends inside the header"));
    }
    let header = parse_header(path, &bytes[header_start..data_start])?;
    if header.fortran {
        return Err(NpyError::FortranOrder {
            path: path.to_path_buf(),
        });
    }
    let (itemsize, kind) = match header.descr.as_str() {
        "<i8" => (8, 'l'),
        "<i4" => (4, 'i'),
        "<f4" => (4, 'f'),
        "<f8" => (8, 'd'),
        "|u1" | "<u1" | ">u1" | "=u1" | "u1" => (1, 'b'),
        _ => {
            return Err(NpyError::UnsupportedDtype {
                path: path.to_path_buf(),
                descr: header.descr,
            })
        }
    };
    let count = header
        .shape
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .ok_or_else(|| header_err(path, "shape overflows"))?;
    let expected = count
        .checked_mul(itemsize)
        .ok_or_else(|| header_err(path, "shape overflows"))?;
    let raw = &bytes[data_start..];
    if raw.len() != expected {
        return Err(NpyError::DataLength {
            path: path.to_path_buf(),
            shape: header.shape,
            descr: header.descr,
            expected,
            got: raw.len(),
        });
    }
    let data = match kind {
        'l' => NpyData::I64(
            raw.chunks_exact(8)
                .map(|c| i64::from_le_bytes(c.try_into().unwrap_or([0; 8])))
                .collect(),
        ),
        'i' => NpyData::I32(
            raw.chunks_exact(4)
                .map(|c| i32::from_le_bytes(c.try_into().unwrap_or([0; 4])))
                .collect(),
        ),
        'f' => NpyData::F32(
            raw.chunks_exact(4)
                .map(|c| f32::from_le_bytes(c.try_into().unwrap_or([0; 4])))
                .collect(),
        ),
        'd' => NpyData::F64(
            raw.chunks_exact(8)
                .map(|c| f64::from_le_bytes(c.try_into().unwrap_or([0; 8])))
                .collect(),
        ),
        _ => NpyData::U8(raw.to_vec()),
    };
    Ok(NpyArray {
        path: path.to_path_buf(),
        shape: header.shape,
        data,
    })
}

/// Reads a `.npy` file.
pub fn read_npy(path: impl AsRef<Path>) -> Result<NpyArray, NpyError> {
    let path = path.as_ref();
    let bytes = fs::read(path).map_err(|source| NpyError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    parse_npy(path, &bytes)
}

/// Reads a 1-D integer index file such as `pert_index.npy` and returns the indices (any integer
/// dtype; negative values are an error naming the file and position). Order is preserved.
pub fn read_index_file(path: impl AsRef<Path>) -> Result<Vec<usize>, NpyError> {
    let arr = read_npy(path)?;
    if arr.shape.len() != 1 {
        return Err(NpyError::WrongType {
            path: arr.path.clone(),
            expected: "a 1-D index array".into(),
            found: format!("shape {:?}", arr.shape),
        });
    }
    arr.to_i64_vec()?
        .into_iter()
        .enumerate()
        .map(|(position, value)| {
            usize::try_from(value).map_err(|_| NpyError::NegativeIndex {
                path: arr.path.clone(),
                position,
                value,
            })
        })
        .collect()
}

fn shape_literal(shape: &[usize]) -> String {
    match shape.len() {
        0 => "()".into(),
        1 => format!("({},)", shape[0]),
        _ => format!(
            "({})",
            shape
                .iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// Encodes an `f32` array as `.npy` bytes (version 1.0, `<f4`, C order), header padded with spaces
/// to a multiple of 64 bytes and terminated by `\n`, like `numpy.save`.
pub fn encode_npy_f32(shape: &[usize], data: &[f32]) -> Vec<u8> {
    let dict = format!(
        "{{'descr': '<f4', 'fortran_order': False, 'shape': {}, }}",
        shape_literal(shape)
    );
    // total = 10 (magic+version+len) + dict + padding + '\n' ≡ 0 (mod 64)
    let unpadded = 10 + dict.len() + 1;
    let pad = (64 - unpadded % 64) % 64;
    let header = format!("{dict}{}\n", " ".repeat(pad));
    let mut out = Vec::with_capacity(10 + header.len() + 4 * data.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&[1, 0]);
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    for v in data {
        out.extend_from_slice(&v.to_le_bytes());
    }
    out
}

/// Writes an `f32` array (e.g. a saliency map) as a `.npy` file; `data.len()` must equal the
/// product of `shape`.
pub fn write_npy_f32(
    path: impl AsRef<Path>,
    shape: &[usize],
    data: &[f32],
) -> Result<(), NpyError> {
    let path = path.as_ref();
    let expected: usize = shape.iter().product();
    if expected != data.len() {
        return Err(NpyError::ShapeMismatch {
            path: path.to_path_buf(),
            shape: shape.to_vec(),
            expected,
            got: data.len(),
        });
    }
    fs::write(path, encode_npy_f32(shape, data)).map_err(|source| NpyError::Io {
        path: path.to_path_buf(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_header(version: u8, dict: &str, data: &[u8]) -> Vec<u8> {
        let mut out = MAGIC.to_vec();
        out.extend_from_slice(&[version, 0]);
        let header = format!("{dict}\n");
        if version == 1 {
            out.extend_from_slice(&(header.len() as u16).to_le_bytes());
        } else {
            out.extend_from_slice(&(header.len() as u32).to_le_bytes());
        }
        out.extend_from_slice(header.as_bytes());
        out.extend_from_slice(data);
        out
    }

    #[test]
    fn parses_all_supported_dtypes_and_versions() {
        let p = Path::new("mem.npy");
        let b = with_header(
            2,
            "{'descr': '<i4', 'fortran_order': False, 'shape': (2, 1), }",
            &[1, 0, 0, 0, 0xff, 0xff, 0xff, 0xff],
        );
        let a = parse_npy(p, &b).unwrap();
        assert_eq!(a.shape, vec![2, 1]);
        assert_eq!(a.data, NpyData::I32(vec![1, -1]));
        let b = with_header(
            3,
            "{\"descr\": \"<f8\", \"fortran_order\": False, \"shape\": (1,)}",
            &1.5f64.to_le_bytes(),
        );
        assert_eq!(parse_npy(p, &b).unwrap().data, NpyData::F64(vec![1.5]));
        let b = with_header(
            1,
            "{'descr': '|u1', 'fortran_order': False, 'shape': (3,), }",
            &[7, 8, 9],
        );
        assert_eq!(
            parse_npy(p, &b).unwrap().to_i64_vec().unwrap(),
            vec![7, 8, 9]
        );
        let b = with_header(
            1,
            "{'descr': '<f4', 'fortran_order': False, 'shape': (), }",
            &2.25f32.to_le_bytes(),
        );
        let a = parse_npy(p, &b).unwrap();
        assert_eq!((a.shape.len(), a.to_f32_vec().unwrap()), (0, vec![2.25]));
    }

    #[test]
    fn rejects_fortran_big_endian_and_bad_lengths() {
        let p = Path::new("bad/file.npy");
        let b = with_header(
            1,
            "{'descr': '<f4', 'fortran_order': True, 'shape': (1,), }",
            &[0; 4],
        );
        let e = parse_npy(p, &b).unwrap_err();
        assert!(matches!(e, NpyError::FortranOrder { .. }));
        assert!(e.to_string().contains("bad/file.npy"));
        let b = with_header(
            1,
            "{'descr': '>f4', 'fortran_order': False, 'shape': (1,), }",
            &[0; 4],
        );
        assert!(
            matches!(parse_npy(p, &b), Err(NpyError::UnsupportedDtype { descr, .. }) if descr == ">f4")
        );
        let b = with_header(
            1,
            "{'descr': '<i8', 'fortran_order': False, 'shape': (2,), }",
            &[0; 12],
        );
        assert!(matches!(
            parse_npy(p, &b),
            Err(NpyError::DataLength {
                expected: 16,
                got: 12,
                ..
            })
        ));
        let b = with_header(
            1,
            "{'descr': '<i8', 'fortran_order': False, 'shape': (1,), }",
            &[0; 9],
        );
        assert!(matches!(
            parse_npy(p, &b),
            Err(NpyError::DataLength {
                expected: 8,
                got: 9,
                ..
            })
        ));
        assert!(matches!(
            parse_npy(p, b"PK\x03\x04 not npy"),
            Err(NpyError::NotNpy { .. })
        ));
        let b = with_header(1, "{'descr': '<i8', 'shape': (1,), }", &[0; 8]);
        assert!(matches!(parse_npy(p, &b), Err(NpyError::Header { .. })));
        let b = with_header(
            1,
            "{'descr': '<i8', 'fortran_order': False, 'shape': (1,), }",
            &(-3i64).to_le_bytes(),
        );
        let arr = parse_npy(p, &b).unwrap();
        assert_eq!(
            arr.to_f32_vec().map_err(|e| e.to_string()).unwrap_err(),
            "bad/file.npy: expected a floating-point array, found dtype <i8"
        );
    }

    #[test]
    fn real_pert_index_file() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../datasets/imagenet/pert_index.npy"
        );
        let arr = read_npy(path).unwrap();
        assert_eq!(arr.shape, vec![5000]);
        assert_eq!(arr.data.descr(), "<i8");
        let idx = read_index_file(path).unwrap();
        assert_eq!(idx.len(), 5000);
        assert_eq!(&idx[..10], &[46, 35, 2, 22, 43, 69, 92, 86, 83, 51]);
        assert_eq!(idx.iter().min(), Some(&2));
        assert_eq!(idx.iter().max(), Some(&49997));
        let unique: std::collections::BTreeSet<usize> = idx.iter().copied().collect();
        assert_eq!(unique.len(), 5000);
    }

    #[test]
    fn write_read_round_trip() {
        let dir = std::env::temp_dir().join(format!("faithbench-npy-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let path = dir.join("map.npy");
        let data: Vec<f32> = (0..24).map(|i| i as f32 * 0.5 - 3.0).collect();
        write_npy_f32(&path, &[2, 3, 4], &data).unwrap();
        let bytes = fs::read(&path).unwrap();
        // numpy.save layout: 128-byte aligned header for this dict, then 96 data bytes
        assert_eq!(bytes.len() % 16, 0);
        assert_eq!(
            (10 + u16::from_le_bytes([bytes[8], bytes[9]]) as usize) % 64,
            0
        );
        assert_eq!(bytes.len(), 128 + 96);
        // byte-identical to numpy.save's header for this array (header length 0x76 = 118)
        assert_eq!(&bytes[..10], b"\x93NUMPY\x01\x00\x76\x00");
        assert!(bytes[10..128]
            .starts_with(b"{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3, 4), }   "));
        assert_eq!(bytes[127], b'\n');
        let back = read_npy(&path).unwrap();
        assert_eq!(back.shape, vec![2, 3, 4]);
        assert_eq!(back.data, NpyData::F32(data.clone()));
        write_npy_f32(dir.join("v.npy"), &[5], &data[..5]).unwrap();
        assert_eq!(read_npy(dir.join("v.npy")).unwrap().shape, vec![5]);
        assert!(matches!(
            write_npy_f32(&path, &[5], &data),
            Err(NpyError::ShapeMismatch {
                expected: 5,
                got: 24,
                ..
            })
        ));
        fs::remove_dir_all(&dir).unwrap();
    }
}
