//! The page's IndexedDB: the kept runs (`runs`: a record's JSON by id), their checkpoints
//! (`checkpoints`: safetensors bytes by id) and, for a run on a text that is not The Time
//! Machine, that text (`texts`). The calls are small promise wrappers in JavaScript; every
//! failure — a refused or full quota, private browsing without storage — comes back as a
//! message, and the caller shows it without stopping training.

use crate::runs::RunRecord;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

#[wasm_bindgen(inline_js = r#"
const STORES = ["runs", "checkpoints", "texts"];
let opened = null;
function open() {
  if (!opened) {
    opened = new Promise((resolve, reject) => {
      if (!globalThis.indexedDB) { reject(new Error("this browser gives the page no IndexedDB (private browsing?)")); return; }
      const request = indexedDB.open("rnnplay", 1);
      request.onupgradeneeded = () => {
        for (const store of STORES) {
          if (!request.result.objectStoreNames.contains(store)) request.result.createObjectStore(store);
        }
      };
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
      request.onblocked = () => reject(new Error("another tab holds an older version of the page's storage; close it"));
    });
    opened.catch(() => { opened = null; });
  }
  return opened;
}
function finished(tx, request) {
  return new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve(request ? request.result : undefined);
    tx.onerror = () => reject(tx.error || (request && request.error));
    tx.onabort = () => reject(tx.error || new Error("the storage transaction was aborted"));
  });
}
export async function idb_put(store, key, value) {
  const tx = (await open()).transaction(store, "readwrite");
  tx.objectStore(store).put(value, key);
  return finished(tx);
}
export async function idb_get(store, key) {
  const tx = (await open()).transaction(store, "readonly");
  return finished(tx, tx.objectStore(store).get(key));
}
export async function idb_all(store) {
  const tx = (await open()).transaction(store, "readonly");
  return finished(tx, tx.objectStore(store).getAll());
}
export async function idb_delete(key) {
  const tx = (await open()).transaction(STORES, "readwrite");
  for (const store of STORES) tx.objectStore(store).delete(key);
  return finished(tx);
}
export async function idb_clear() {
  const tx = (await open()).transaction(STORES, "readwrite");
  for (const store of STORES) tx.objectStore(store).clear();
  return finished(tx);
}
export function error_text(error) {
  if (error && error.name === "QuotaExceededError") return "QuotaExceededError";
  return error && error.message ? `${error.name}: ${error.message}` : String(error);
}
"#)]
extern "C" {
    fn idb_put(store: &str, key: f64, value: &JsValue) -> js_sys::Promise;
    fn idb_get(store: &str, key: f64) -> js_sys::Promise;
    fn idb_all(store: &str) -> js_sys::Promise;
    fn idb_delete(key: f64) -> js_sys::Promise;
    fn idb_clear() -> js_sys::Promise;
    fn error_text(error: &JsValue) -> String;
}

/// The message a failed storage call shows.
fn failure(what: &str, error: &JsValue) -> String {
    match error_text(error).as_str() {
        "QuotaExceededError" => format!(
            "the browser's storage is full or refused ({what}): training goes on, but this is not kept — delete old runs from the table, or allow this site more storage"
        ),
        text => format!("the browser's storage failed ({what}: {text}); training goes on"),
    }
}

async fn wait(promise: js_sys::Promise, what: &str) -> Result<JsValue, String> {
    JsFuture::from(promise).await.map_err(|error| failure(what, &error))
}

/// Keeps (or replaces) a run's record.
pub async fn put_record(record: &RunRecord) -> Result<(), String> {
    let json = serde_json::to_string(record).map_err(|e| e.to_string())?;
    wait(idb_put("runs", record.id as f64, &JsValue::from_str(&json)), "saving the run").await.map(|_| ())
}

/// Keeps a run's checkpoint.
pub async fn put_checkpoint(id: u64, bytes: &[u8]) -> Result<(), String> {
    let value = js_sys::Uint8Array::from(bytes);
    wait(idb_put("checkpoints", id as f64, &value), "saving the run's checkpoint").await.map(|_| ())
}

/// Keeps the text a run trains on.
pub async fn put_text(id: u64, text: &str) -> Result<(), String> {
    wait(idb_put("texts", id as f64, &JsValue::from_str(text)), "saving the run's text").await.map(|_| ())
}

/// Every kept run, oldest first; a record that no longer parses is skipped (and said so).
pub async fn records() -> Result<(Vec<RunRecord>, usize), String> {
    let all = wait(idb_all("runs"), "reading the kept runs").await?;
    let mut records = Vec::new();
    let mut unreadable = 0;
    for value in js_sys::Array::from(&all).iter() {
        match value.as_string().and_then(|json| serde_json::from_str::<RunRecord>(&json).ok()) {
            Some(record) => records.push(record),
            None => unreadable += 1,
        }
    }
    records.sort_by_key(|r| r.id);
    Ok((records, unreadable))
}

/// A run's checkpoint, if one is kept.
pub async fn checkpoint(id: u64) -> Result<Option<Vec<u8>>, String> {
    let value = wait(idb_get("checkpoints", id as f64), "reading the run's checkpoint").await?;
    Ok((!value.is_undefined()).then(|| js_sys::Uint8Array::new(&value).to_vec()))
}

/// A run's text, if one is kept.
pub async fn text(id: u64) -> Result<Option<String>, String> {
    Ok(wait(idb_get("texts", id as f64), "reading the run's text").await?.as_string())
}

/// Forgets a run: its record, checkpoint and text.
pub async fn delete(id: u64) -> Result<(), String> {
    wait(idb_delete(id as f64), "deleting the run").await.map(|_| ())
}

/// Forgets every run.
pub async fn clear() -> Result<(), String> {
    wait(idb_clear(), "deleting the runs").await.map(|_| ())
}
