//! A strict reader for the small pickle subset of torchvision's `meta.bin`.
//!
//! `torch.save((wnid_to_classes, val_wnids), path)` pickles nothing but dicts, tuples, lists and
//! strings (plus, in the legacy container, a long, small ints and a bool in its header pickles).
//! This module reads exactly the opcodes such objects produce with protocols 2–5 and rejects
//! everything else — globals, persistent ids (tensors), reductions, floats, bytes, sets, the
//! text opcodes of protocols 0/1 — with an error that names the opcode and its byte offset.
//!
//! Supported: `PROTO` (first opcode, protocol 2–5), `FRAME`, `STOP`, `MARK`, `EMPTY_DICT`, `DICT`,
//! `EMPTY_LIST`, `LIST`, `EMPTY_TUPLE`, `TUPLE`, `TUPLE1`–`TUPLE3`, `SETITEM`, `SETITEMS`, `APPEND`,
//! `APPENDS`, `SHORT_BINUNICODE`, `BINUNICODE`, `BINUNICODE8`, `BINPUT`, `LONG_BINPUT`, `MEMOIZE`,
//! `BINGET`, `LONG_BINGET`, `BININT`, `BININT1`, `BININT2`, `LONG1`, `NEWTRUE`, `NEWFALSE`.
//!
//! Semantics follow CPython's unpickler: the memo holds references (a dict fetched with `BINGET`
//! after later `SETITEMS` sees the added items), `SETITEM` on an existing key replaces its value.
//! Stricter than CPython: dict keys must be strings, `STOP` must leave exactly one object and no
//! open mark, and strings must be valid UTF-8.

use std::collections::HashMap;

/// A decoded pickle value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PyValue {
    /// `str`.
    Str(String),
    /// An `int` from `BININT*`.
    Int(i64),
    /// An `int` from `LONG1`: its two's-complement little-endian bytes, as pickled.
    Long(Vec<u8>),
    /// `True` / `False`.
    Bool(bool),
    /// `tuple`.
    Tuple(Vec<PyValue>),
    /// `list`.
    List(Vec<PyValue>),
    /// `dict` with string keys, in insertion order.
    Dict(Vec<(String, PyValue)>),
}

impl PyValue {
    /// Python's name of the value's type, for messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            PyValue::Str(_) => "str",
            PyValue::Int(_) | PyValue::Long(_) => "int",
            PyValue::Bool(_) => "bool",
            PyValue::Tuple(_) => "tuple",
            PyValue::List(_) => "list",
            PyValue::Dict(_) => "dict",
        }
    }
}

/// What went wrong, and at which byte of the pickle data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PickleError {
    /// Offset of the offending opcode (or of the end of the data) in the buffer given.
    pub offset: usize,
    /// What is wrong.
    pub message: String,
}

impl std::fmt::Display for PickleError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "pickle byte {}: {}", self.offset, self.message)
    }
}

/// Every opcode of pickle protocols 0–5 with its `pickletools` name, for messages.
const OPCODE_NAMES: [(u8, &str); 68] = [
    (0x28, "MARK"),
    (0x29, "EMPTY_TUPLE"),
    (0x2e, "STOP"),
    (0x30, "POP"),
    (0x31, "POP_MARK"),
    (0x32, "DUP"),
    (0x42, "BINBYTES"),
    (0x43, "SHORT_BINBYTES"),
    (0x46, "FLOAT"),
    (0x47, "BINFLOAT"),
    (0x49, "INT"),
    (0x4a, "BININT"),
    (0x4b, "BININT1"),
    (0x4c, "LONG"),
    (0x4d, "BININT2"),
    (0x4e, "NONE"),
    (0x50, "PERSID"),
    (0x51, "BINPERSID"),
    (0x52, "REDUCE"),
    (0x53, "STRING"),
    (0x54, "BINSTRING"),
    (0x55, "SHORT_BINSTRING"),
    (0x56, "UNICODE"),
    (0x58, "BINUNICODE"),
    (0x5d, "EMPTY_LIST"),
    (0x61, "APPEND"),
    (0x62, "BUILD"),
    (0x63, "GLOBAL"),
    (0x64, "DICT"),
    (0x65, "APPENDS"),
    (0x67, "GET"),
    (0x68, "BINGET"),
    (0x69, "INST"),
    (0x6a, "LONG_BINGET"),
    (0x6c, "LIST"),
    (0x6f, "OBJ"),
    (0x70, "PUT"),
    (0x71, "BINPUT"),
    (0x72, "LONG_BINPUT"),
    (0x73, "SETITEM"),
    (0x74, "TUPLE"),
    (0x75, "SETITEMS"),
    (0x7d, "EMPTY_DICT"),
    (0x80, "PROTO"),
    (0x81, "NEWOBJ"),
    (0x82, "EXT1"),
    (0x83, "EXT2"),
    (0x84, "EXT4"),
    (0x85, "TUPLE1"),
    (0x86, "TUPLE2"),
    (0x87, "TUPLE3"),
    (0x88, "NEWTRUE"),
    (0x89, "NEWFALSE"),
    (0x8a, "LONG1"),
    (0x8b, "LONG4"),
    (0x8c, "SHORT_BINUNICODE"),
    (0x8d, "BINUNICODE8"),
    (0x8e, "BINBYTES8"),
    (0x8f, "EMPTY_SET"),
    (0x90, "ADDITEMS"),
    (0x91, "FROZENSET"),
    (0x92, "NEWOBJ_EX"),
    (0x93, "STACK_GLOBAL"),
    (0x94, "MEMOIZE"),
    (0x95, "FRAME"),
    (0x96, "BYTEARRAY8"),
    (0x97, "NEXT_BUFFER"),
    (0x98, "READONLY_BUFFER"),
];

/// `0x51 (BINPERSID)`, or `0x01 (not a pickle opcode)`.
fn describe_opcode(op: u8) -> String {
    match OPCODE_NAMES.iter().find(|(b, _)| *b == op) {
        Some((_, name)) => format!("0x{op:02x} ({name})"),
        None => format!("0x{op:02x} (not a pickle opcode)"),
    }
}

/// Deepest nesting converted to a [`PyValue`] (a list appended to itself would never end).
const MAX_DEPTH: usize = 64;

enum Obj {
    Str(String),
    Int(i64),
    Long(Vec<u8>),
    Bool(bool),
    Tuple(Vec<usize>),
    List(Vec<usize>),
    Dict(Vec<(usize, usize)>),
}

#[derive(Clone, Copy)]
enum Slot {
    Mark,
    Obj(usize),
}

struct Machine<'a> {
    data: &'a [u8],
    pos: usize,
    /// Offset of the opcode being executed.
    at: usize,
    arena: Vec<Obj>,
    stack: Vec<Slot>,
    memo: HashMap<u64, usize>,
}

impl<'a> Machine<'a> {
    fn err(&self, message: impl Into<String>) -> PickleError {
        PickleError {
            offset: self.at,
            message: message.into(),
        }
    }

    fn take(&mut self, n: u64, what: &str) -> Result<&'a [u8], PickleError> {
        let left = (self.data.len() - self.pos) as u64;
        if n > left {
            return Err(self.err(format!(
                "truncated: {what} needs {n} bytes, {left} left in the data"
            )));
        }
        let n = n as usize;
        let s = &self.data[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    fn uint(&mut self, n: usize, what: &str) -> Result<u64, PickleError> {
        let b = self.take(n as u64, what)?;
        Ok(b.iter().rev().fold(0u64, |acc, &x| (acc << 8) | x as u64))
    }

    fn push(&mut self, obj: Obj) {
        self.arena.push(obj);
        self.stack.push(Slot::Obj(self.arena.len() - 1));
    }

    fn pop_obj(&mut self, op: &str) -> Result<usize, PickleError> {
        match self.stack.pop() {
            Some(Slot::Obj(id)) => Ok(id),
            Some(Slot::Mark) => {
                Err(self.err(format!("{op} found a MARK where it needs an object")))
            }
            None => Err(self.err(format!("{op} on an empty stack"))),
        }
    }

    fn top_obj(&self, op: &str) -> Result<usize, PickleError> {
        match self.stack.last() {
            Some(Slot::Obj(id)) => Ok(*id),
            Some(Slot::Mark) => {
                Err(self.err(format!("{op} found a MARK where it needs an object")))
            }
            None => Err(self.err(format!("{op} on an empty stack"))),
        }
    }

    /// Pops everything above the topmost MARK (and the MARK).
    fn pop_mark(&mut self, op: &str) -> Result<Vec<usize>, PickleError> {
        let Some(m) = self.stack.iter().rposition(|s| matches!(s, Slot::Mark)) else {
            return Err(self.err(format!("{op} without a MARK")));
        };
        let items = self.stack[m + 1..]
            .iter()
            .map(|s| match s {
                Slot::Obj(id) => *id,
                Slot::Mark => unreachable!("rposition found the topmost mark"),
            })
            .collect();
        self.stack.truncate(m);
        Ok(items)
    }

    fn string(&mut self, len: u64) -> Result<(), PickleError> {
        let bytes = self.take(len, "the string")?;
        let s = std::str::from_utf8(bytes)
            .map_err(|e| self.err(format!("string is not valid UTF-8 ({e})")))?
            .to_string();
        self.push(Obj::Str(s));
        Ok(())
    }

    fn put(&mut self, key: u64, op: &str) -> Result<(), PickleError> {
        let id = self.top_obj(op)?;
        self.memo.insert(key, id);
        Ok(())
    }

    fn get(&mut self, key: u64, op: &str) -> Result<(), PickleError> {
        let Some(&id) = self.memo.get(&key) else {
            return Err(self.err(format!("{op} {key}: no such memo entry")));
        };
        self.stack.push(Slot::Obj(id));
        Ok(())
    }

    fn tuple(&mut self, n: usize, op: &str) -> Result<(), PickleError> {
        let mut items = Vec::with_capacity(n);
        for _ in 0..n {
            items.push(self.pop_obj(op)?);
        }
        items.reverse();
        self.push(Obj::Tuple(items));
        Ok(())
    }

    fn set_items(&mut self, dict: usize, pairs: &[usize], op: &str) -> Result<(), PickleError> {
        if !pairs.len().is_multiple_of(2) {
            return Err(self.err(format!("{op} with an odd number of items")));
        }
        for kv in pairs.chunks(2) {
            let key = match &self.arena[kv[0]] {
                Obj::Str(s) => s.clone(),
                other => {
                    return Err(self.err(format!(
                        "{op}: a dict key of type {}; only str keys are supported",
                        obj_type(other)
                    )))
                }
            };
            let existing = match &self.arena[dict] {
                Obj::Dict(entries) => entries
                    .iter()
                    .position(|(k, _)| matches!(&self.arena[*k], Obj::Str(s) if *s == key)),
                other => return Err(self.err(format!("{op} on a {}, not a dict", obj_type(other)))),
            };
            if let Obj::Dict(entries) = &mut self.arena[dict] {
                match existing {
                    Some(i) => entries[i].1 = kv[1],
                    None => entries.push((kv[0], kv[1])),
                }
            }
        }
        Ok(())
    }

    fn append(&mut self, list: usize, items: &[usize], op: &str) -> Result<(), PickleError> {
        match &mut self.arena[list] {
            Obj::List(v) => {
                v.extend_from_slice(items);
                Ok(())
            }
            other => {
                let t = obj_type(other);
                Err(self.err(format!("{op} on a {t}, not a list")))
            }
        }
    }

    fn value(&self, id: usize, depth: usize) -> Result<PyValue, PickleError> {
        if depth > MAX_DEPTH {
            return Err(self.err(format!(
                "objects nested deeper than {MAX_DEPTH} levels (a container holding itself?)"
            )));
        }
        let all = |ids: &[usize]| -> Result<Vec<PyValue>, PickleError> {
            ids.iter().map(|&i| self.value(i, depth + 1)).collect()
        };
        Ok(match &self.arena[id] {
            Obj::Str(s) => PyValue::Str(s.clone()),
            Obj::Int(i) => PyValue::Int(*i),
            Obj::Long(b) => PyValue::Long(b.clone()),
            Obj::Bool(b) => PyValue::Bool(*b),
            Obj::Tuple(v) => PyValue::Tuple(all(v)?),
            Obj::List(v) => PyValue::List(all(v)?),
            Obj::Dict(entries) => PyValue::Dict(
                entries
                    .iter()
                    .map(|&(k, v)| {
                        let key = match &self.arena[k] {
                            Obj::Str(s) => s.clone(),
                            _ => unreachable!("set_items admits str keys only"),
                        };
                        Ok((key, self.value(v, depth + 1)?))
                    })
                    .collect::<Result<_, PickleError>>()?,
            ),
        })
    }
}

fn obj_type(o: &Obj) -> &'static str {
    match o {
        Obj::Str(_) => "str",
        Obj::Int(_) | Obj::Long(_) => "int",
        Obj::Bool(_) => "bool",
        Obj::Tuple(_) => "tuple",
        Obj::List(_) => "list",
        Obj::Dict(_) => "dict",
    }
}

/// Reads one pickle that starts at `data[start]`; returns its value and the offset just past
/// its `STOP`. Offsets in errors are offsets into `data`.
pub fn read_pickle(data: &[u8], start: usize) -> Result<(PyValue, usize), PickleError> {
    let mut m = Machine {
        data,
        pos: start.min(data.len()),
        at: start.min(data.len()),
        arena: Vec::new(),
        stack: Vec::new(),
        memo: HashMap::new(),
    };
    let mut first = true;
    loop {
        m.at = m.pos;
        let Some(&op) = data.get(m.pos) else {
            return Err(m.err("truncated: the data ends before the pickle's STOP"));
        };
        m.pos += 1;
        if first {
            if op != 0x80 {
                return Err(m.err(format!(
                    "the pickle starts with opcode {} instead of PROTO (protocol 2–5 pickles start with it)",
                    describe_opcode(op)
                )));
            }
            let proto = m.uint(1, "PROTO")?;
            if !(2..=5).contains(&proto) {
                return Err(m.err(format!(
                    "pickle protocol {proto} is not supported (2 to 5 are)"
                )));
            }
            first = false;
            continue;
        }
        match op {
            0x2e => {
                // STOP
                return match m.stack.as_slice() {
                    [Slot::Obj(id)] => Ok((m.value(*id, 0)?, m.pos)),
                    [] => Err(m.err("STOP on an empty stack")),
                    _ => Err(m.err(format!(
                        "STOP with {} items (objects or marks) on the stack instead of one object",
                        m.stack.len()
                    ))),
                };
            }
            0x95 => {
                // FRAME: framing is a hint for buffered reading; the data is read as one buffer
                let n = m.uint(8, "FRAME")?;
                let left = (data.len() - m.pos) as u64;
                if n > left {
                    return Err(m.err(format!(
                        "truncated: FRAME announces {n} bytes, {left} left in the data"
                    )));
                }
            }
            0x28 => m.stack.push(Slot::Mark),
            0x7d => m.push(Obj::Dict(Vec::new())),
            0x64 => {
                // DICT
                let items = m.pop_mark("DICT")?;
                m.push(Obj::Dict(Vec::new()));
                let id = m.top_obj("DICT")?;
                m.set_items(id, &items, "DICT")?;
            }
            0x5d => m.push(Obj::List(Vec::new())),
            0x6c => {
                // LIST
                let items = m.pop_mark("LIST")?;
                m.push(Obj::List(items));
            }
            0x29 => m.push(Obj::Tuple(Vec::new())),
            0x74 => {
                // TUPLE
                let items = m.pop_mark("TUPLE")?;
                m.push(Obj::Tuple(items));
            }
            0x85 => m.tuple(1, "TUPLE1")?,
            0x86 => m.tuple(2, "TUPLE2")?,
            0x87 => m.tuple(3, "TUPLE3")?,
            0x73 => {
                // SETITEM
                let v = m.pop_obj("SETITEM")?;
                let k = m.pop_obj("SETITEM")?;
                let d = m.top_obj("SETITEM")?;
                m.set_items(d, &[k, v], "SETITEM")?;
            }
            0x75 => {
                // SETITEMS
                let items = m.pop_mark("SETITEMS")?;
                let d = m.top_obj("SETITEMS")?;
                m.set_items(d, &items, "SETITEMS")?;
            }
            0x61 => {
                // APPEND
                let v = m.pop_obj("APPEND")?;
                let l = m.top_obj("APPEND")?;
                m.append(l, &[v], "APPEND")?;
            }
            0x65 => {
                // APPENDS
                let items = m.pop_mark("APPENDS")?;
                let l = m.top_obj("APPENDS")?;
                m.append(l, &items, "APPENDS")?;
            }
            0x8c => {
                let n = m.uint(1, "SHORT_BINUNICODE")?;
                m.string(n)?;
            }
            0x58 => {
                let n = m.uint(4, "BINUNICODE")?;
                m.string(n)?;
            }
            0x8d => {
                let n = m.uint(8, "BINUNICODE8")?;
                m.string(n)?;
            }
            0x71 => {
                let k = m.uint(1, "BINPUT")?;
                m.put(k, "BINPUT")?;
            }
            0x72 => {
                let k = m.uint(4, "LONG_BINPUT")?;
                m.put(k, "LONG_BINPUT")?;
            }
            0x94 => {
                let k = m.memo.len() as u64;
                m.put(k, "MEMOIZE")?;
            }
            0x68 => {
                let k = m.uint(1, "BINGET")?;
                m.get(k, "BINGET")?;
            }
            0x6a => {
                let k = m.uint(4, "LONG_BINGET")?;
                m.get(k, "LONG_BINGET")?;
            }
            0x4a => {
                let v = m.uint(4, "BININT")? as u32 as i32;
                m.push(Obj::Int(v as i64));
            }
            0x4b => {
                let v = m.uint(1, "BININT1")?;
                m.push(Obj::Int(v as i64));
            }
            0x4d => {
                let v = m.uint(2, "BININT2")?;
                m.push(Obj::Int(v as i64));
            }
            0x8a => {
                let n = m.uint(1, "LONG1")?;
                let b = m.take(n, "LONG1")?.to_vec();
                m.push(Obj::Long(b));
            }
            0x88 => m.push(Obj::Bool(true)),
            0x89 => m.push(Obj::Bool(false)),
            0x80 => return Err(m.err("PROTO after the start of the pickle")),
            _ => {
                return Err(m.err(format!(
                    "unsupported pickle opcode {} (meta.bin holds only dicts, tuples, lists and strings)",
                    describe_opcode(op)
                )))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(x: &str) -> PyValue {
        PyValue::Str(x.to_string())
    }

    /// Hand-assembled protocol-2 pickle of `{'a': ('x', 'y'), 'b': ['x']}` with memo reuse.
    const P2: &[u8] = b"\x80\x02}q\x00(X\x01\x00\x00\x00aq\x01X\x01\x00\x00\x00xq\x02X\x01\x00\x00\x00yq\x03\x86q\x04X\x01\x00\x00\x00bq\x05]q\x06h\x02au.";

    #[test]
    fn protocol_2_dict_tuple_list_with_memo() {
        let (v, end) = read_pickle(P2, 0).unwrap();
        assert_eq!(end, P2.len());
        assert_eq!(
            v,
            PyValue::Dict(vec![
                ("a".into(), PyValue::Tuple(vec![s("x"), s("y")])),
                ("b".into(), PyValue::List(vec![s("x")])),
            ])
        );
    }

    #[test]
    fn protocol_4_short_strings_memoize_frame_and_binunicode8() {
        // PROTO 4, FRAME, EMPTY_LIST MEMOIZE MARK SHORT_BINUNICODE 'é' MEMOIZE BINUNICODE8 'zz'
        // BINGET 1 (the 'é') EMPTY_TUPLE TUPLE3 APPENDS STOP; CPython: ['é', ('zz', 'é', ())]
        let mut p = b"\x80\x04\x95".to_vec();
        let body: &[u8] =
            b"]\x94(\x8c\x02\xc3\xa9\x94\x8d\x02\x00\x00\x00\x00\x00\x00\x00zzh\x01)\x87e.";
        p.extend_from_slice(&(body.len() as u64).to_le_bytes());
        p.extend_from_slice(body);
        let (v, _) = read_pickle(&p, 0).unwrap();
        assert_eq!(
            v,
            PyValue::List(vec![
                s("é"),
                PyValue::Tuple(vec![s("zz"), s("é"), PyValue::Tuple(vec![])])
            ])
        );
    }

    #[test]
    fn ints_bools_longs_and_mark_based_containers() {
        // (MARK BININT -2 BININT1 7 BININT2 1001 NEWTRUE NEWFALSE LONG1 [0x6c 0xfc] TUPLE),
        // DICT {MARK 'k' EMPTY_LIST DICT}, LIST [MARK LIST], TUPLE2
        let p: &[u8] = b"\x80\x02(J\xfe\xff\xff\xffK\x07M\xe9\x03\x88\x89\x8a\x02\x6c\xfct(X\x01\x00\x00\x00k]d\x86.";
        let (v, _) = read_pickle(p, 0).unwrap();
        assert_eq!(
            v,
            PyValue::Tuple(vec![
                PyValue::Tuple(vec![
                    PyValue::Int(-2),
                    PyValue::Int(7),
                    PyValue::Int(1001),
                    PyValue::Bool(true),
                    PyValue::Bool(false),
                    PyValue::Long(vec![0x6c, 0xfc]),
                ]),
                PyValue::Dict(vec![("k".into(), PyValue::List(vec![]))]),
            ])
        );
        let (v, _) = read_pickle(b"\x80\x02(l.", 0).unwrap();
        assert_eq!(v, PyValue::List(vec![]));
    }

    #[test]
    fn memo_holds_references_and_setitem_replaces() {
        // d = {}; memo[0] = d; d['a'] = 'x'; then (BINGET 0) → the same, filled dict; d['a'] = 'y'
        let p: &[u8] = b"\x80\x02}q\x00X\x01\x00\x00\x00aX\x01\x00\x00\x00xsh\x00\x86.";
        let (v, _) = read_pickle(p, 0).unwrap();
        let d = PyValue::Dict(vec![("a".into(), s("x"))]);
        assert_eq!(v, PyValue::Tuple(vec![d.clone(), d]));
        let p: &[u8] = b"\x80\x02}(X\x01\x00\x00\x00aK\x01X\x01\x00\x00\x00aK\x02u.";
        assert_eq!(
            read_pickle(p, 0).unwrap().0,
            PyValue::Dict(vec![("a".into(), PyValue::Int(2))])
        );
    }

    fn err(p: &[u8]) -> PickleError {
        read_pickle(p, 0).unwrap_err()
    }

    #[test]
    fn unsupported_opcodes_are_named_with_their_offset() {
        let e = err(b"\x80\x02N.");
        assert_eq!(
            (e.offset, e.message.contains("0x4e (NONE)")),
            (2, true),
            "{e}"
        );
        let e = err(b"\x80\x02X\x01\x00\x00\x00aQ.");
        assert!(
            e.to_string()
                .starts_with("pickle byte 8: unsupported pickle opcode 0x51 (BINPERSID)"),
            "{e}"
        );
        let e = err(b"\x80\x02\x01.");
        assert!(e.message.contains("0x01 (not a pickle opcode)"), "{e}");
        let e = err(b"(l.");
        assert!(e.message.contains("0x28 (MARK) instead of PROTO"), "{e}");
        let e = err(b"\x80\x01].");
        assert!(e.message.contains("protocol 1 is not supported"), "{e}");
        let e = err(b"\x80\x02]\x80\x02.");
        assert!(e.message.contains("PROTO after the start"), "{e}");
    }

    #[test]
    fn malformed_streams_are_errors_not_panics() {
        for (p, want) in [
            (&b""[..], "ends before"),
            (b"\x80", "PROTO needs 1 bytes"),
            (b"\x80\x02", "ends before"),
            (
                b"\x80\x02X\x05\x00\x00\x00ab.",
                "the string needs 5 bytes, 3 left",
            ),
            (
                b"\x80\x02\x95\xff\x00\x00\x00\x00\x00\x00\x00].",
                "FRAME announces 255 bytes",
            ),
            (
                b"\x80\x02\x8d\xff\xff\xff\xff\xff\xff\xff\xff",
                "needs 18446744073709551615 bytes",
            ),
            (b"\x80\x02X\x01\x00\x00\x00\xff.", "not valid UTF-8"),
            (b"\x80\x02h\x00.", "BINGET 0: no such memo entry"),
            (b"\x80\x02(q\x00.", "BINPUT found a MARK"),
            (b"\x80\x02q\x00.", "BINPUT on an empty stack"),
            (b"\x80\x02\x86.", "TUPLE2 on an empty stack"),
            (b"\x80\x02t.", "TUPLE without a MARK"),
            (b"\x80\x02}(K\x01K\x02u.", "dict key of type int"),
            (
                b"\x80\x02](X\x01\x00\x00\x00aX\x01\x00\x00\x00bu.",
                "SETITEMS on a list, not a dict",
            ),
            (b"\x80\x02}(X\x01\x00\x00\x00au.", "odd number of items"),
            (b"\x80\x02}K\x01a.", "APPEND on a dict, not a list"),
            (b"\x80\x02.", "STOP on an empty stack"),
            (b"\x80\x02]].", "STOP with 2 items"),
            (b"\x80\x02(].", "STOP with 2 items"),
            (b"\x80\x02]q\x00h\x00a.", "nested deeper than 64"),
        ] {
            let e = err(p);
            assert!(e.message.contains(want), "{p:?}: {e}");
        }
    }

    #[test]
    fn reads_from_an_offset_and_reports_the_end() {
        let mut p = b"junk".to_vec();
        p.extend_from_slice(P2);
        p.extend_from_slice(b"\x80\x02].");
        let (_, end) = read_pickle(&p, 4).unwrap();
        assert_eq!(end, 4 + P2.len());
        assert_eq!(
            read_pickle(&p, end).unwrap(),
            (PyValue::List(vec![]), p.len())
        );
        assert_eq!(read_pickle(&p, 0).unwrap_err().offset, 0);
        assert_eq!(read_pickle(&p, p.len() + 5).unwrap_err().offset, p.len());
    }
}
