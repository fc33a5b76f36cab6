// Taking files out of a session: the person cancels them, removes a row no tab is sending, or another page did either;
// the engine drops them and the portal is told. `uploads` is the page's UploadManager (upload.js).
import { showAlert } from "./dialogs.js";
import { postJSON, report } from "./protocol.js";
import { ACTIVE } from "./records.js";
import { showEmptyTable } from "./rows.js";

// The person stopped these files: out of the engine and the queues, out of the session on the server, rows gone.
// Files still being read were never sent: their drop gives back the room it kept for them.
export function cancel(uploads, records, { tellPortal = true } = {}) {
  const { transfers } = uploads;
  const bySession = new Map();
  for (const record of records) {
    if (!ACTIVE.has(record.state)) continue;
    const was = record.state;
    record.state = "cancelled";
    record.file = null;
    const entry = bySession.get(record.session.id) || { session: record.session, ids: [], drops: new Map() };
    bySession.set(record.session.id, entry);
    if (was === "queued" || was === "uploading") {
      entry.ids.push(record.assetId);
      transfers.drop(record);
    } else if (was === "hashing") {
      const unsent = neverSent(record);
      if (unsent) entry.drops.set(unsent.id, (entry.drops.get(unsent.id) || 0) + 1);
    }
    // A file whose part is being registered is cancelled when the answer names it (registerPart).
    const run = uploads.files.run;
    if (run && record.run === run.id) run.cancelled = (run.cancelled || 0) + 1;
    uploads.forget(record);
  }
  showEmptyTable();
  for (const { session, ids, drops } of bySession.values()) {
    const unsent = [...drops].map(([id, files]) => ({ id, files }));
    if (tellPortal && (ids.length || unsent.length)) cancelOnServer(session, ids, unsent);
  }
  transfers.askDrops();
  transfers.pump();
  uploads.updateBadge();
}

// A row of a file no tab of this page is sending (cut off by a reload): it leaves the session, unless its bytes
// arrived meanwhile.
export function remove(session, button) {
  button.disabled = true;
  postJSON(session.cancelUrl, { assetIds: [button.dataset.remove] }).then(
    (answer) => {
      if (answer.cancelled) button.closest("tr")?.remove();
      else showAlert("That file is no longer waiting for its bytes: they arrived meanwhile.", "info");
      showEmptyTable();
    },
    (error) => {
      button.disabled = false;
      showAlert(error.message);
    },
  );
}

// Files that left the session elsewhere (cancelled or removed on another page): their rows go here too, and a
// transfer this page was still making of one of them stops (the portal no longer has the file).
export function dropRemovedRows(uploads, assetIds) {
  const sending = [];
  for (const assetId of assetIds) {
    const record = uploads.files.byAsset.get(assetId);
    if (record && ACTIVE.has(record.state)) sending.push(record);
    else if (record) uploads.forget(record);
    else document.getElementById(`asset-${assetId}`)?.remove();
  }
  if (sending.length) cancel(uploads, sending, { tellPortal: false });
  showEmptyTable();
  uploads.updateBadge();
}

export function cancelOnServer(session, assetIds, drops) {
  return report(session.cancelUrl, { assetIds, drops }).catch((error) => showAlert(error.message));
}

// A file of a drop that will never be registered: the drop announces itself smaller, or, once its first part kept
// room in the session for the whole drop, the portal is told to give that file's room back (returned for cancel).
// While the first part is on its way the portal has kept nothing yet: the room goes back when its answer comes.
function neverSent(record) {
  if (!record.drop) return null;
  const { drop, parts } = record.drop;
  if (!parts.announced) {
    drop.size -= 1;
    return null;
  }
  if (!parts.registered) {
    parts.giveBack += 1;
    return null;
  }
  return { id: drop.id, files: 1 };
}
