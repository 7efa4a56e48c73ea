use benchboard::export::*;
use benchboard::store::*;
use std::time::Instant;
fn main() {
    let dir = std::path::Path::new("target/bench-data/history-6x20000/team1");
    let mut names: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("2025"))
        .collect();
    names.sort();
    names.truncate(20000);
    let t = Instant::now();
    let bytes: Vec<Vec<u8>> = names
        .iter()
        .map(|n| std::fs::read(dir.join(n)).unwrap())
        .collect();
    println!("read {:?}", t.elapsed());
    let t = Instant::now();
    let vals: Vec<serde_json::Value> = bytes
        .iter()
        .map(|b| serde_json::from_slice(b).unwrap())
        .collect();
    println!("parse Value {:?}", t.elapsed());
    let t = Instant::now();
    let stored: Vec<StoredReport> = names
        .iter()
        .map(|n| read_report_file(&dir.join(n)).unwrap())
        .collect();
    println!("read_report_file {:?}", t.elapsed());
    let t = Instant::now();
    let rows: Vec<ExportRow> = stored
        .into_iter()
        .map(|s| ExportRow::from_stored(s, dir.into()).unwrap())
        .collect();
    println!("validate+metrics {:?}", t.elapsed());
    let t = Instant::now();
    let c = rows.clone();
    println!("clone {:?}", t.elapsed());
    let t = Instant::now();
    let n = benchboard::export::csv::write(std::io::sink(), c.into_iter()).unwrap();
    println!("csv {n} {:?}", t.elapsed());
    let t = Instant::now();
    drop(rows);
    drop(vals);
    println!("drop {:?}", t.elapsed());
}
