// Row painting: the file table's rows of the files this tab adds, painted from their records a few times a second,
// and the table-wide bits that follow them (the empty table, Retry all failed, the summary's counts).
import { ACTIVE } from "./records.js";

// Changed rows and the header count are repainted at most this often (the bars glide between paints).
const PAINT_INTERVAL_MS = 200;

// Duplicates and refused files never become assets, so their labels are the page's own; the others are Asset.Status's.
const PAGE_LABELS = { skipped: "Skipped", refused: "Refused" };

// `work` runs once at the first frame PAINT_INTERVAL_MS after it is asked for, however often it is asked meanwhile.
export function paintLater(work) {
  let pending = 0;
  return () => {
    if (pending) return;
    pending = setTimeout(
      () =>
        requestAnimationFrame(() => {
          pending = 0;
          work();
        }),
      PAINT_INTERVAL_MS,
    );
  };
}

export function formatSize(bytes) {
  const units = ["bytes", "KB", "MB", "GB", "TB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return unit === 0 ? `${value} bytes` : `${value.toFixed(1)} ${units[unit]}`;
}

export function formatDuration(seconds) {
  const s = Math.max(1, Math.round(seconds));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, "0")} s`;
  return `${Math.floor(s / 3600)} h ${String(Math.floor((s % 3600) / 60)).padStart(2, "0")} min`;
}

export function pageSessionId() {
  return document.querySelector("[data-upload-session]")?.dataset.uploadSession;
}

export function rowFor(record) {
  return (record.assetId && document.getElementById(`asset-${record.assetId}`)) || document.getElementById(`file-${record.cid}`);
}

// The row takes the asset's id, so the server's polled rows and this record meet.
export function adoptRow(oldRow, record) {
  const existing = document.getElementById(`asset-${record.assetId}`);
  if (oldRow && existing && existing !== oldRow) oldRow.remove();
  else if (oldRow) oldRow.id = `asset-${record.assetId}`;
}

export function showEmptyTable() {
  if (!document.querySelector("#file-rows > tr")) document.querySelector("[data-files-empty]")?.removeAttribute("hidden");
}

export function updateRetryAll() {
  const button = document.querySelector("[data-retry-all]");
  if (!button) return;
  const failed = document.querySelectorAll('#file-rows tr[data-status="upload_error"]').length;
  button.hidden = failed === 0;
  button.textContent = `Retry all failed (${failed})`;
}

// The summary is the server's (each poll brings it); what a registration changed shows before the next poll.
export function showCounts(session, answer) {
  if (session.id !== pageSessionId()) return;
  const summary = document.getElementById("session-summary");
  const files = summary?.querySelector("[data-summary-files]");
  if (files && Number.isInteger(answer.held)) files.textContent = answer.held.toLocaleString("en-US");
  const add = (selector, count) => {
    const value = summary?.querySelector(selector);
    if (value && count) value.textContent = ((Number(value.textContent.replace(/,/g, "")) || 0) + count).toLocaleString("en-US");
  };
  add("[data-summary-uploading]", answer.files.filter((result) => result.outcome === "upload").length);
  add("[data-summary-duplicates]", answer.duplicates);
}

export class RowPainter {
  // `afterFlush` repaints what depends on the rows (the transfer line).
  constructor(afterFlush) {
    this.afterFlush = afterFlush;
    this.statusLabels = {}; // Asset.Status's labels, as the session page renders them (mount reads them)
    this.dirty = new Set();
    this.flushSoon = paintLater(() => this.flush());
  }

  renderNewRows(records) {
    const body = document.getElementById("file-rows");
    if (!body) return;
    const fragment = document.createDocumentFragment();
    for (const record of records) {
      if (record.session.id !== pageSessionId()) continue;
      const row = document.createElement("tr");
      row.id = `file-${record.cid}`;
      row.setAttribute("role", "row");
      row.innerHTML =
        '<td role="cell" class="name-cell"></td><td role="cell" class="num"></td><td role="cell" class="progress-cell"><div class="progress" role="progressbar" aria-valuemin="0" aria-valuemax="100"><span></span></div></td><td role="cell"><span class="badge"></span></td><td role="cell" class="reason-cell"></td><td role="cell" class="num"></td>';
      row.querySelector(".progress").setAttribute("aria-label", `Progress of ${record.name}`);
      row.cells[0].textContent = record.name;
      row.cells[0].title = record.name;
      row.cells[1].textContent = formatSize(record.size);
      fragment.append(row);
      this.paint(record, row);
    }
    if (!fragment.childElementCount) return; // a page with none of this tab's files keeps its "No files yet"
    body.append(fragment);
    document.querySelector("[data-files-empty]")?.setAttribute("hidden", "");
  }

  // Rows are repainted a few times a second, not on every progress event: with six transfers at once,
  // painting each event kept the page's main thread busy enough to slow the transfers down.
  touch(record) {
    this.dirty.add(record);
    this.flushSoon();
  }

  flush() {
    const pageSession = pageSessionId();
    for (const record of this.dirty) {
      if (record.session.id !== pageSession) continue;
      const row = rowFor(record);
      if (row) this.paint(record, row);
    }
    this.dirty.clear();
    this.afterFlush();
  }

  paint(record, row) {
    const labels = {
      hashing: ["uploading", "Preparing (computing its checksum)"],
      registering: ["uploading", "Preparing"],
      queued: ["uploading", "Waiting for a free connection"],
      uploading: ["uploading", ""],
      verifying: ["uploading", "Sent; checking what storage received"],
      failed: ["upload_error", record.reason],
      duplicate: ["skipped", record.reason],
      refused: ["refused", record.reason],
    };
    // Once the server has the last word (done, or failed after the bytes arrived) its row stays as rendered.
    if (!labels[record.state]) return;
    const [status, note] = labels[record.state];
    row.dataset.status = status;
    row.classList.toggle("is-skipped", record.state === "duplicate");
    const badge = row.querySelector(".badge") || row.cells[3];
    badge.className = `badge badge-${status}`;
    badge.textContent = this.statusLabels[status] ?? PAGE_LABELS[status];
    const bar = row.querySelector(".progress");
    const fill = bar?.firstElementChild;
    if (bar && fill) {
      const percent = Math.round(record.progress * 100);
      const indeterminate = record.state === "hashing" || record.state === "registering";
      bar.classList.toggle("is-indeterminate", indeterminate);
      // A bar without a value yet has no aria-valuenow (WAI-ARIA's progressbar): screen readers then say it is busy.
      if (indeterminate) bar.removeAttribute("aria-valuenow");
      else bar.setAttribute("aria-valuenow", String(percent));
      // A failed transfer's bar is red: screen readers hear "Failed" rather than how far it got.
      if (record.state === "failed") bar.setAttribute("aria-valuetext", "Failed");
      else bar.removeAttribute("aria-valuetext");
      fill.style.transform = `scaleX(${record.progress})`;
      fill.className = record.state === "failed" ? "is-error" : record.state === "verifying" ? "is-done" : "";
    }
    const reason = row.cells[4];
    if (reason) {
      const text = record.state === "uploading" ? `${formatSize(Math.round(record.progress * record.size))} of ${formatSize(record.size)}` : note;
      reason.textContent = text || "";
    }
    // Rebuilt only when it changes: a button replaced between press and release would swallow the click.
    const action = row.cells[5];
    const wanted = record.state === "failed" && record.assetId ? "retry" : ACTIVE.has(record.state) ? "cancel" : "";
    if (action && action.dataset.action !== wanted) {
      action.dataset.action = wanted;
      action.replaceChildren();
      if (wanted) {
        const button = document.createElement("button");
        button.type = "button";
        if (wanted === "retry") {
          button.className = "btn btn-sm";
          button.dataset.retry = record.assetId;
          button.textContent = "Retry";
        } else {
          button.className = "btn btn-sm btn-ghost";
          button.dataset.cancel = record.cid;
          button.textContent = "Cancel";
          button.setAttribute("aria-label", `Cancel ${record.name}`);
        }
        action.append(button);
      }
    }
  }
}
