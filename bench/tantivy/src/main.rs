//! Tantivy + jieba, set up the way a new user would from the crates' own docs, to time a
//! build beside searcher and the Python recipe (`bench/perf.py --tantivy`).
//!
//! Walk a folder, read each Markdown file (`.md`, `.markdown`), split the YAML front matter
//! with the plain `---` split a user writes (title, tags, categories, date; a file without
//! one is all body, titled by its name), take the text of the body's HTML (the recipe does
//! the same with BeautifulSoup), and index title + body with the `tantivy-jieba` tokenizer
//! behind `RemoveLongFilter` + `LowerCaser` (the tokenizer crate's example), a stored title,
//! one `index.writer(50_000_000)` (Tantivy's default multithreaded writer, with the budget
//! its examples use), one commit, and wait for the merges that commit started.
//!
//!     tantivy-bench index CORPUS INDEX_DIR   -> RESULT {"seconds": .., "documents": .., ...}
//!     tantivy-bench count INDEX_DIR QUERY    -> RESULT {"query": .., "hits": .., "paths": [..]}
//!
//! The one line of output is JSON after `RESULT `, the line bench/benchlib.py's
//! `run_child` reads from every benchmark child.
//!
//! `count` parses QUERY with Tantivy's QueryParser over title + body and gives the number
//! and the paths of every matching document, so a test can check that the index is real.

use std::path::Path;
use std::process::ExitCode;
use std::sync::LazyLock;
use std::time::Instant;

use serde_yaml::Value;
use tantivy::collector::{Count, DocSetCollector};
use tantivy::query::QueryParser;
use tantivy::schema::{
    DateOptions, Field, INDEXED, IndexRecordOption, STORED, STRING, Schema, TextFieldIndexing,
    TextOptions, Value as _,
};
use tantivy::tokenizer::{LowerCaser, RemoveLongFilter, TextAnalyzer};
use tantivy::{DateTime, Index, IndexWriter, TantivyDocument};
use time::format_description::BorrowedFormatItem;
use time::format_description::well_known::{Rfc2822, Rfc3339};
use time::{Date, OffsetDateTime, PrimitiveDateTime};

const WRITER_BUDGET: usize = 50_000_000;

struct Fields {
    path: Field,
    title: Field,
    body: Field,
    tags: Field,
    categories: Field,
    date: Field,
}

fn schema() -> (Schema, Fields) {
    let jieba = TextFieldIndexing::default()
        .set_tokenizer("jieba")
        .set_index_option(IndexRecordOption::WithFreqsAndPositions);
    let mut b = Schema::builder();
    let fields = Fields {
        path: b.add_text_field("path", STRING | STORED),
        title: b.add_text_field(
            "title",
            TextOptions::default()
                .set_indexing_options(jieba.clone())
                .set_stored(),
        ),
        body: b.add_text_field("body", TextOptions::default().set_indexing_options(jieba)),
        tags: b.add_text_field("tags", STRING),
        categories: b.add_text_field("categories", STRING),
        date: b.add_date_field("date", DateOptions::from(INDEXED).set_fast().set_stored()),
    };
    (b.build(), fields)
}

fn register_jieba(index: &Index) {
    let analyzer = TextAnalyzer::builder(tantivy_jieba::JiebaTokenizer::new())
        .filter(RemoveLongFilter::limit(40))
        .filter(LowerCaser)
        .build();
    index.tokenizers().register("jieba", analyzer);
}

/// `---\n<yaml>\n---\n<body>` → (front matter, body); no front matter → (None, whole text).
fn split_front_matter(text: &str) -> (Option<&str>, &str) {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let Some(rest) = text.strip_prefix("---") else {
        return (None, text);
    };
    let Some(rest) = rest
        .strip_prefix("\r\n")
        .or_else(|| rest.strip_prefix('\n'))
    else {
        return (None, text);
    };
    let mut offset = 0;
    for line in rest.split_inclusive('\n') {
        if line.trim_end() == "---" {
            return (Some(&rest[..offset]), &rest[offset + line.len()..]);
        }
        offset += line.len();
    }
    (None, text)
}

fn strings(value: Option<&Value>) -> Vec<String> {
    match value {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Number(n)) => vec![n.to_string()],
        Some(Value::Sequence(items)) => items.iter().flat_map(|v| strings(Some(v))).collect(),
        _ => Vec::new(),
    }
}

/// Front matter dates as the blogs write them: RFC 3339, RFC 2822, or a local
/// `YYYY-MM-DD[ HH:MM:SS]` (taken as UTC; serde_yaml gives all of them as strings).
fn parse_date(value: &str) -> Option<DateTime> {
    static LOCAL: LazyLock<[Vec<BorrowedFormatItem<'static>>; 2]> = LazyLock::new(|| {
        [
            "[year]-[month]-[day] [hour]:[minute]:[second]",
            "[year]-[month]-[day]",
        ]
        .map(|f| time::format_description::parse_borrowed::<2>(f).expect("valid format"))
    });
    let value = value.trim();
    let utc = OffsetDateTime::parse(value, &Rfc3339)
        .or_else(|_| OffsetDateTime::parse(value, &Rfc2822))
        .ok()
        .or_else(|| {
            Some(
                PrimitiveDateTime::parse(value, &LOCAL[0])
                    .ok()?
                    .assume_utc(),
            )
        })
        .or_else(|| Some(Date::parse(value, &LOCAL[1]).ok()?.midnight().assume_utc()))?;
    Some(DateTime::from_timestamp_secs(utc.unix_timestamp()))
}

/// The text of the body's HTML, as BeautifulSoup's `get_text()` gives it to the recipe: the
/// strings between tags (entities decoded), tags and comments dropped.  A WHATWG tokenizer,
/// so a `<` that starts no tag (`$n<10^9$`, `a < b`) stays text.
fn html_text(body: &str) -> String {
    let mut out = String::with_capacity(body.len());
    for token in html5gum::Tokenizer::new(body).flatten() {
        if let html5gum::Token::String(text) = token {
            out.push_str(&String::from_utf8_lossy(&text));
        }
    }
    out
}

fn document(path: &Path, f: &Fields) -> Result<TantivyDocument, String> {
    let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
    let (front, body) = split_front_matter(&text);
    let meta: Value = match front {
        Some(yaml) => serde_yaml::from_str(yaml).map_err(|e| e.to_string())?,
        None => Value::Null,
    };
    let title = strings(meta.get("title"))
        .into_iter()
        .next()
        .unwrap_or_else(|| {
            path.file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default()
        });
    let mut doc = TantivyDocument::default();
    doc.add_text(f.path, path.to_string_lossy());
    doc.add_text(f.title, title);
    doc.add_text(f.body, html_text(body));
    for tag in strings(meta.get("tags")) {
        doc.add_text(f.tags, tag);
    }
    for cat in strings(meta.get("categories")) {
        doc.add_text(f.categories, cat);
    }
    if let Some(date) = strings(meta.get("date"))
        .first()
        .and_then(|d| parse_date(d))
    {
        doc.add_date(f.date, date);
    }
    Ok(doc)
}

/// Peak resident memory of this process (VmHWM, kB; 0 where /proc is absent), the
/// `maxrss_self_kb` perf.py reports for every build.
fn peak_rss_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
            line.split_whitespace().nth(1)?.parse().ok()
        })
        .unwrap_or(0)
}

fn is_markdown(path: &Path) -> bool {
    path.extension()
        .and_then(|x| x.to_str())
        .is_some_and(|x| x.eq_ignore_ascii_case("md") || x.eq_ignore_ascii_case("markdown"))
}

fn dir_bytes(dir: &Path) -> u64 {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(Result::ok)
        .filter_map(|e| e.metadata().ok())
        .filter(|m| m.is_file())
        .map(|m| m.len())
        .sum()
}

fn index(corpus: &Path, index_dir: &Path) -> tantivy::Result<serde_json::Value> {
    let started = Instant::now();
    std::fs::create_dir_all(index_dir)?;
    let (schema, fields) = schema();
    let index = Index::create_in_dir(index_dir, schema)?;
    register_jieba(&index);
    let mut writer: IndexWriter = index.writer(WRITER_BUDGET)?;
    let (mut documents, mut failed) = (0u64, 0u64);
    let files = walkdir::WalkDir::new(corpus)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|e| e.depth() == 0 || !e.file_name().to_string_lossy().starts_with('.'))
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file() && is_markdown(e.path()));
    for entry in files {
        match document(entry.path(), &fields) {
            Ok(doc) => {
                writer.add_document(doc)?;
                documents += 1;
            }
            Err(err) => {
                eprintln!("skipped {}: {err}", entry.path().display());
                failed += 1;
            }
        }
    }
    writer.commit()?;
    let committed = started.elapsed().as_secs_f64();
    // Let the merges the commit started finish, so the folder is the index a reader opens.
    writer.wait_merging_threads()?;
    Ok(serde_json::json!({
        "seconds": started.elapsed().as_secs_f64(),
        "seconds_to_commit": committed,
        "documents": documents,
        "failed": failed,
        "index_bytes": dir_bytes(index_dir),
        "segments": index.searchable_segment_ids()?.len(),
        "threads": std::thread::available_parallelism().map(|n| n.get().min(8)).unwrap_or(1),
        "maxrss_self_kb": peak_rss_kb(),
        "maxrss_children_kb": 0,
    }))
}

fn count(index_dir: &Path, query: &str) -> tantivy::Result<serde_json::Value> {
    let index = Index::open_in_dir(index_dir)?;
    register_jieba(&index);
    let schema = index.schema();
    let fields = vec![schema.get_field("title")?, schema.get_field("body")?];
    let parsed = QueryParser::for_index(&index, fields)
        .parse_query(query)
        .map_err(|e| tantivy::TantivyError::InvalidArgument(e.to_string()))?;
    let searcher = index.reader()?.searcher();
    let (hits, addresses) = searcher.search(&parsed, &(Count, DocSetCollector))?;
    let path = schema.get_field("path")?;
    let mut paths = Vec::with_capacity(addresses.len());
    for address in addresses {
        let doc: TantivyDocument = searcher.doc(address)?;
        paths.extend(
            doc.get_first(path)
                .and_then(|v| v.as_str())
                .map(str::to_owned),
        );
    }
    paths.sort();
    Ok(
        serde_json::json!({"query": query, "hits": hits, "documents": searcher.num_docs(),
                          "paths": paths}),
    )
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let result = match args.get(1).map(String::as_str) {
        Some("index") if args.len() == 4 => index(Path::new(&args[2]), Path::new(&args[3])),
        Some("count") if args.len() == 4 => count(Path::new(&args[2]), &args[3]),
        _ => {
            eprintln!("usage: tantivy-bench index CORPUS INDEX_DIR | count INDEX_DIR QUERY");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(json) => {
            println!("RESULT {json}");
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("tantivy-bench: {err}");
            ExitCode::FAILURE
        }
    }
}
