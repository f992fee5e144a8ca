//! ImageNet class names for zero-shot prompts: torchvision `meta.bin` (zip and legacy
//! `torch.save` formats, real files made by `scripts/fixtures/make_imagenet_meta_fixture.py`),
//! the shipped WNID table, and the folder-name fallback.

use std::fs;
use std::path::{Path, PathBuf};

use faithbench_data::imagenet_meta::parse_meta_bin;
use faithbench_data::{
    dataset_kind, imagenet_class_table, prompt, read_meta_bin, ClassNameRule, ClassNameSource,
    DataError, DatasetReader, ImageNetError, ImageNetVal, TorchSaveFormat,
};
use image::{Rgb, RgbImage};
use serde_json::Value;

fn fixture(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/data/imagenet_meta")
        .join(rel)
}

fn expected() -> Value {
    let text = fs::read_to_string(fixture("expected.json")).expect("expected.json");
    serde_json::from_str(&text).expect("expected.json is JSON")
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|s| s.as_str().expect("string").to_string())
        .collect()
}

fn string_lists(v: &Value) -> Vec<Vec<String>> {
    v.as_array().expect("array").iter().map(strings).collect()
}

struct TempDir(PathBuf);
impl TempDir {
    fn new(tag: &str) -> Self {
        let p = std::env::temp_dir().join(format!(
            "faithbench-imagenet-classes-{tag}-{}",
            std::process::id()
        ));
        let _ = fs::remove_dir_all(&p);
        fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
}
impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// `root/val/<folder>/img.png` for every folder.
fn layout(root: &Path, folders: &[&str]) {
    for (i, f) in folders.iter().enumerate() {
        let d = root.join("val").join(f);
        fs::create_dir_all(&d).unwrap();
        RgbImage::from_pixel(2, 2, Rgb([i as u8, 0, 0]))
            .save(d.join("ILSVRC2012_val_00000001.png"))
            .unwrap();
    }
}

const TINY_FOLDERS: [&str; 3] = ["n01440764", "n03590841", "n99999999"];

#[test]
fn zip_legacy_and_protocol_5_files_read_exactly() {
    let exp = expected();
    for (name, format) in [
        ("zip", TorchSaveFormat::Zip),
        ("legacy", TorchSaveFormat::Legacy),
        ("proto5", TorchSaveFormat::Zip),
    ] {
        let e = &exp["fixtures"][name];
        let path = fixture(&format!("{name}/meta.bin"));
        let meta = read_meta_bin(&path).unwrap();
        let want: Vec<(String, Vec<String>)> = e["wnid_to_classes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|kv| (kv[0].as_str().unwrap().to_string(), strings(&kv[1])))
            .collect();
        assert_eq!(want.len(), 4, "{name}");
        assert_eq!(meta.wnid_to_classes, want, "{name}");
        assert_eq!(meta.val_wnids, strings(&e["val_wnids"]), "{name}");
        let (again, f) = parse_meta_bin(&fs::read(&path).unwrap()).unwrap();
        assert_eq!((again, f), (meta.clone(), format), "{name}");
        // the awkward made-up class survives byte for byte
        assert_eq!(
            meta.synonyms("n99999999").unwrap(),
            [
                "naïve café",
                "say \"hi\"",
                "it's \"both\"",
                "back\\slash",
                "tab\there",
                "漢字 😀"
            ]
        );
        assert_eq!(meta.synonyms("n02012849").unwrap(), ["crane"]);
        assert_eq!(meta.synonyms("n00000000"), None);
    }
}

#[test]
fn full_1000_class_meta_bin_is_the_shipped_table() {
    let meta = read_meta_bin(fixture("full1000/meta.bin")).unwrap();
    let table = imagenet_class_table();
    assert_eq!(meta.wnid_to_classes.len(), 1000);
    for ((wnid, synonyms), class) in meta.wnid_to_classes.iter().zip(table) {
        assert_eq!(wnid, class.wnid);
        assert_eq!(synonyms, &class.synonyms);
    }
    let reversed: Vec<&str> = table.iter().rev().map(|c| c.wnid).collect();
    assert_eq!(meta.val_wnids, reversed);
}

/// torchvision's 1000 classes, read by `torchvision.datasets.ImageNet` from a meta.bin made of the
/// table, and the prompts the reference builds from them: the table and both rules, for every class.
#[test]
fn all_1000_prompts_match_torchvision() {
    let text = fs::read_to_string(fixture("full1000_prompts.tsv")).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 1000);
    for (class, line) in imagenet_class_table().iter().zip(&lines) {
        let cols: Vec<&str> = line.split('\t').collect();
        assert_eq!(cols.len(), 3, "{line}");
        assert_eq!(cols[0], class.wnid);
        let t = "a photo of a {}";
        assert_eq!(
            prompt(t, &class.synonyms, ClassNameRule::ReferenceTuple).unwrap(),
            cols[1]
        );
        assert_eq!(
            prompt(t, &class.synonyms, ClassNameRule::FirstSynonym).unwrap(),
            cols[2]
        );
    }
}

#[test]
fn meta_bin_gives_torchvisions_classes_and_prompts() {
    let exp = expected();
    for name in ["zip", "legacy", "proto5"] {
        let e = &exp["fixtures"][name];
        assert_eq!(strings(&e["folders"]), TINY_FOLDERS);
        let t = TempDir::new(&format!("meta-{name}"));
        layout(&t.0, &TINY_FOLDERS);
        fs::copy(fixture(&format!("{name}/meta.bin")), t.0.join("meta.bin")).unwrap();
        // the root holding val/, and the val/ folder itself (meta.bin is then found next to it)
        for root in [t.0.clone(), t.0.join("val")] {
            let ds = ImageNetVal::open(&root).unwrap();
            assert_eq!(ds.meta_bin_path(), Some(t.0.join("meta.bin")));
            let (classes, source) = ds.class_synonyms_with_source().unwrap();
            assert_eq!(source, ClassNameSource::MetaBin(t.0.join("meta.bin")));
            assert_eq!(classes, string_lists(&e["classes"]), "{name}");
            assert_eq!(
                DatasetReader::class_synonyms(&ds).unwrap(),
                Some(classes.clone())
            );
            let prompts: Vec<String> = classes
                .iter()
                .map(|c| prompt("a photo of a {}", c, ClassNameRule::ReferenceTuple).unwrap())
                .collect();
            assert_eq!(prompts, strings(&e["prompts"]), "{name}");
        }
    }
    // spelled out for the record: what torchvision's classes turn into
    let e = &exp["fixtures"]["zip"];
    assert_eq!(
        strings(&e["class_str"]),
        [
            "('tench', 'Tinca tinca')",
            "(\"jack-o'-lantern\",)",
            "('naïve café', 'say \"hi\"', 'it\\'s \"both\"', 'back\\\\slash', 'tab\\there', '漢字 😀')",
        ]
    );
}

#[test]
fn a_class_folder_missing_from_meta_bin_is_an_error() {
    let t = TempDir::new("missing");
    layout(&t.0, &["n01440764", "n03126707", "n03590841", "n99999999"]);
    let meta = t.0.join("meta.bin");
    fs::copy(fixture("legacy/meta.bin"), &meta).unwrap();
    let ds = ImageNetVal::open(&t.0).unwrap();
    let err = ds.class_synonyms_with_source().unwrap_err();
    assert!(
        matches!(&err, ImageNetError::MissingInMeta { wnid, path } if wnid == "n03126707" && *path == meta),
        "{err:?}"
    );
    let msg = err.to_string();
    assert!(
        msg.contains("n03126707") && msg.contains(&meta.display().to_string()),
        "{msg}"
    );
    // through the reader trait too, and the table (which has n03126707) is not consulted
    let e = DatasetReader::class_synonyms(&ds).unwrap_err();
    assert!(
        matches!(e, DataError::ImageNet(ImageNetError::MissingInMeta { .. })),
        "{e}"
    );
}

fn assert_meta_error(bytes: &[u8], tag: &str, want: &str) {
    let t = TempDir::new(tag);
    let path = t.0.join("meta.bin");
    fs::write(&path, bytes).unwrap();
    let err = read_meta_bin(&path).unwrap_err();
    assert!(
        matches!(err, ImageNetError::MetaBin { .. }),
        "{tag}: {err:?}"
    );
    let msg = err.to_string();
    assert!(msg.contains(&path.display().to_string()), "{tag}: {msg}");
    assert!(msg.contains(want), "{tag}: {msg}");
}

#[test]
fn every_truncation_of_either_format_is_an_error_naming_the_file() {
    for name in ["zip", "legacy", "proto5"] {
        let bytes = fs::read(fixture(&format!("{name}/meta.bin"))).unwrap();
        // every prefix is rejected (in memory: writing thousands of files is slow) …
        for len in 0..bytes.len() {
            assert!(
                parse_meta_bin(&bytes[..len]).is_err(),
                "{name} cut at {len} was accepted"
            );
        }
        // … and the error of a file names it (the path is added to every parse error alike)
        let t = TempDir::new(&format!("trunc-{name}"));
        let path = t.0.join("meta.bin");
        for len in (0..bytes.len()).step_by(97).chain([bytes.len() - 1]) {
            fs::write(&path, &bytes[..len]).unwrap();
            let err = read_meta_bin(&path).expect_err(&format!("{name} cut at {len}"));
            let msg = err.to_string();
            assert!(
                msg.contains(&path.display().to_string()),
                "{name} {len}: {msg}"
            );
        }
    }
    assert_meta_error(b"", "empty", "the file is empty");
}

#[test]
fn garbled_files_are_errors_naming_file_and_problem() {
    let legacy = fs::read(fixture("legacy/meta.bin")).unwrap();
    let zip = fs::read(fixture("zip/meta.bin")).unwrap();

    // not a torch.save file at all
    assert_meta_error(
        b"n01440764 tench, Tinca tinca\n",
        "text",
        "neither a zip archive nor a legacy torch.save file",
    );
    // a changed string byte inside the zip's data.pkl: the record's CRC-32 no longer matches
    let mut z = zip.clone();
    let at = z.windows(5).position(|w| w == b"tench").unwrap();
    z[at] = b'T';
    assert_meta_error(
        &z,
        "crc",
        "torch.save zip format: cannot read meta/data.pkl",
    );
    // a zip without the data.pkl record
    let mut z = zip.clone();
    for (i, w) in z.clone().windows(13).enumerate() {
        if w == b"meta/data.pkl" {
            z[i + 9..i + 13].copy_from_slice(b"txt0");
        }
    }
    assert_meta_error(&z, "nopkl", "no record meta/data.pkl");

    // legacy: the header pickles (magic, protocol version, sys info) end at the object's PROTO
    let header_end = legacy
        .windows(3)
        .enumerate()
        .filter(|(_, w)| *w == b"\x80\x02}")
        .map(|(i, _)| i)
        .nth(1)
        .unwrap();
    assert_eq!(header_end, 137);
    let header = &legacy[..header_end];
    let tail = &legacy[legacy.len() - 6..];
    assert_eq!(tail, b"\x80\x02]q\x00.");
    let with = |object: &[u8], rest: &[u8]| [header, object, rest].concat();
    // a tensor in the object (persistent id)
    assert_meta_error(
        &with(b"\x80\x02X\x01\x00\x00\x00aQ.", tail),
        "persid",
        "object pickle: pickle byte 145: unsupported pickle opcode 0x51 (BINPERSID)",
    );
    assert_meta_error(
        &with(b"\x80\x02]q\x00.", tail),
        "list",
        "the object is a list, not the tuple (wnid_to_classes, val_wnids)",
    );
    assert_meta_error(
        &with(b"\x80\x02}]]\x87.", tail),
        "three",
        "a tuple of 3 items",
    );
    assert_meta_error(
        &with(b"\x80\x02]]\x86.", tail),
        "dictlist",
        "wnid_to_classes is a list, not a dict",
    );
    assert_meta_error(
        &with(b"\x80\x02}X\x01\x00\x00\x00n]s]\x86.", tail),
        "value",
        "wnid_to_classes[\"n\"] is a list, not a tuple of str",
    );
    assert_meta_error(
        &with(b"\x80\x02}X\x01\x00\x00\x00nK\x01\x85s]\x86.", tail),
        "item",
        "wnid_to_classes[\"n\"][0] is a int, not a str",
    );
    assert_meta_error(
        &with(b"\x80\x02})\x86.", tail),
        "vals",
        "val_wnids is a tuple, not a list",
    );
    assert_meta_error(
        &with(b"\x80\x02}]K\x07a\x86.", tail),
        "valitem",
        "val_wnids[0] is a int, not a str",
    );
    let obj = &legacy[header_end..legacy.len() - 6];
    assert_meta_error(
        &with(obj, b"\x80\x02]X\x01\x00\x00\x000a."),
        "storages",
        "holds 1 tensor storages",
    );
    assert_meta_error(
        &with(obj, b"\x80\x02}."),
        "keys",
        "the storage-key pickle is a dict, not a list",
    );
    assert_meta_error(
        &[&legacy[..], b"\x00"].concat(),
        "trailing",
        "1 bytes follow",
    );
    let mut bad_magic = legacy.clone();
    bad_magic[4] ^= 1; // inside the LONG1 digits
    assert_meta_error(&bad_magic, "magic", "other than torch's magic number");
    let mut bad_version = legacy.clone();
    bad_version[18] = 0xea; // BININT2 1001 → 1002
    assert_meta_error(&bad_version, "version", "instead of 1001");

    // a garbled meta.bin is an error of the dataset's class names, not a fallback to the table
    let t = TempDir::new("garbled-layout");
    layout(&t.0, &["n01440764"]);
    fs::write(t.0.join("meta.bin"), &legacy[..100]).unwrap();
    let ds = ImageNetVal::open(&t.0).unwrap();
    let e = DatasetReader::class_synonyms(&ds).unwrap_err().to_string();
    assert!(
        e.contains(&t.0.join("meta.bin").display().to_string()),
        "{e}"
    );
    assert!(
        e.contains("legacy torch.save format: sys-info pickle"),
        "{e}"
    );
}

#[test]
fn fallbacks_pick_the_right_source() {
    // 2. no meta.bin, every folder a WNID of the table
    let t = TempDir::new("table");
    layout(&t.0, &["n03590841", "n01440764", "n03126707"]);
    let ds = ImageNetVal::open(&t.0).unwrap();
    assert_eq!(ds.meta_bin_path(), None);
    let (classes, source) = ds.class_synonyms_with_source().unwrap();
    assert_eq!(source, ClassNameSource::WnidTable);
    assert_eq!(
        classes,
        [
            vec!["tench".to_string(), "Tinca tinca".into()],
            vec!["crane".into()],
            vec!["jack-o'-lantern".into()],
        ]
    );
    // a meta.bin next to a split folder that is not named `val` is not torchvision's layout
    let other = TempDir::new("not-val");
    fs::rename(t.0.join("val"), other.0.join("images")).unwrap();
    fs::copy(fixture("zip/meta.bin"), other.0.join("meta.bin")).unwrap();
    let ds = ImageNetVal::open(other.0.join("images")).unwrap();
    assert_eq!(ds.meta_bin_path(), None);
    assert_eq!(
        ds.class_synonyms_with_source().unwrap().1,
        ClassNameSource::WnidTable
    );
    // … but one inside the given root is
    fs::copy(fixture("zip/meta.bin"), other.0.join("images/meta.bin")).unwrap();
    let ds = ImageNetVal::open(other.0.join("images")).unwrap();
    assert_eq!(ds.meta_bin_path(), Some(other.0.join("images/meta.bin")));
    // (n03126707 is not in the tiny meta.bin)
    assert!(matches!(
        ds.class_synonyms_with_source(),
        Err(ImageNetError::MissingInMeta { .. })
    ));

    // 3. a WNID-shaped folder outside the table: folder names
    let t = TempDir::new("unknown-wnid");
    layout(&t.0, &["n01440764", "n99999999"]);
    let (classes, source) = ImageNetVal::open(&t.0)
        .unwrap()
        .class_synonyms_with_source()
        .unwrap();
    assert_eq!(source, ClassNameSource::FolderNames);
    assert_eq!(
        classes,
        [vec!["n01440764".to_string()], vec!["n99999999".into()]]
    );
    // 3. names that are not WNIDs
    let t = TempDir::new("names");
    layout(&t.0, &["square", "disc", "n01440764"]);
    let ds = ImageNetVal::open(t.0.join("val")).unwrap();
    let (classes, source) = ds.class_synonyms_with_source().unwrap();
    assert_eq!(source, ClassNameSource::FolderNames);
    assert_eq!(
        classes,
        [
            vec!["disc".to_string()],
            vec!["n01440764".into()],
            vec!["square".into()]
        ]
    );
}

#[test]
fn shipped_shapes_data_uses_its_folder_names() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../datasets/shapes");
    let ds = ImageNetVal::open(&root).unwrap();
    let (classes, source) = ds.class_synonyms_with_source().unwrap();
    assert_eq!(source, ClassNameSource::FolderNames);
    // the folders are `<label>_<name>` (datasets/shapes/README.md), so sorting keeps CLASSES' order
    let want: Vec<Vec<String>> = faithbench_data::synthetic::CLASSES
        .iter()
        .enumerate()
        .map(|(i, n)| vec![format!("{i}_{n}")])
        .collect();
    assert_eq!(classes, want);
    assert_eq!(
        prompt(
            "a photo of a {}",
            &classes[0],
            ClassNameRule::ReferenceTuple
        )
        .unwrap(),
        "a photo of a ('0_disc',)"
    );
    assert_eq!(
        prompt("a photo of a {}", &classes[4], ClassNameRule::FirstSynonym).unwrap(),
        "a photo of a 4_ring"
    );
}

#[test]
fn fingerprint_and_locations_name_meta_bin_when_present() {
    let kind = dataset_kind("imagenet_val").unwrap();
    let t = TempDir::new("fingerprint");
    layout(&t.0, &TINY_FOLDERS);
    let mut keys = serde_json::Map::new();
    keys.insert("root".into(), Value::from(t.0.display().to_string()));
    let opened = (kind.open)(&keys).unwrap();
    assert_eq!(
        opened.fingerprint,
        serde_json::json!({ "subset_sha256": null })
    );
    assert_eq!(opened.locations, std::slice::from_ref(&t.0));

    fs::copy(fixture("zip/meta.bin"), t.0.join("meta.bin")).unwrap();
    let opened = (kind.open)(&keys).unwrap();
    let sha = faithbench_data::files::sha256_file(&fixture("zip/meta.bin")).unwrap();
    assert_eq!(
        opened.fingerprint,
        serde_json::json!({ "subset_sha256": null, "meta_bin_sha256": sha })
    );
    assert_eq!(opened.locations, [t.0.clone(), t.0.join("meta.bin")]);
    assert_eq!(
        opened.reader.class_synonyms().unwrap().unwrap()[0],
        ["tench", "Tinca tinca"]
    );
}
