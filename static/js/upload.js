// Glue between the drop zone, the transfer engine (Uppy, headless, with @uppy/aws-s3) and the
// server-rendered rows of an upload session: it wires the modules of upload/ together, one job each. One manager lives
// for the whole tab: htmx-boosted navigation swaps the page but keeps this module, so transfers go on while people browse.
import { getDroppedFiles } from "@uppy/core/utils";
import { announceCounts } from "./upload/announce.js";
import { cancel, dropRemovedRows, remove } from "./upload/cancel.js";
import { TabChannel } from "./upload/channel.js";
import { Completions } from "./upload/completion.js";
import { confirmFinalize, offerCancelAll, showAlert } from "./upload/dialogs.js";
import { addFiles, isHidden } from "./upload/drops.js";
import { TransferEngine } from "./upload/engine.js";
import { ACTIVE, FileRecords } from "./upload/records.js";
import { adoptRow, paintLater, RowPainter, rowFor, updateRetryAll } from "./upload/rows.js";
import { paintTransferLine } from "./upload/transfer-line.js";

class UploadManager {
  constructor() {
    this.files = new FileRecords();
    this.rows = new RowPainter(() => paintTransferLine(this.files));
    this.completions = new Completions(this);
    this.transfers = new TransferEngine(this.files, {
      progress: (record, share) => {
        record.state = "uploading";
        record.progress = share;
        this.touch(record);
      },
      sent: (record) => {
        record.state = "verifying";
        record.progress = 1;
        this.touch(record);
        this.completions.queueComplete(record);
      },
      failed: (record, reason) => this.completions.markFailed(record, reason, true),
    });
    this.tabs = new TabChannel(this.files, () => this.updateBadge());
    this.scheduleRowChecks = paintLater(() => this.refreshIndicators());
  }

  // The records by client id, for people and tests looking from the console (window.portalUploads.records).
  get records() {
    return this.files.records;
  }

  active(sessionId) {
    return this.files.active(sessionId);
  }

  touch(record) {
    this.rows.touch(record);
  }

  // The header count, Finalize and Retry all failed are refreshed at most once per paint interval.
  updateBadge() {
    this.scheduleRowChecks();
  }

  assign(record, instructions) {
    const oldRow = rowFor(record);
    this.files.assign(record, instructions);
    this.transfers.expect(record, instructions);
    adoptRow(oldRow, record);
    this.touch(record);
  }

  forget(record) {
    this.files.forget(record);
    if (record.key) this.transfers.putCache.delete(record.key);
    rowFor(record)?.remove();
  }

  refreshIndicators() {
    if (this.active()) this.tabs.startReporting();
    const badge = document.getElementById("upload-badge");
    if (!badge) return;
    const elsewhere = this.tabs.liveOtherTabs();
    const count = this.active() + elsewhere.reduce((sum, heard) => sum + heard.count, 0);
    badge.hidden = count === 0;
    badge.querySelector("[data-upload-count]").textContent = count.toLocaleString();
    const first = [...this.records.values()].find((record) => ACTIVE.has(record.state));
    if (first) badge.href = first.session.url;
    else if (elsewhere.length) badge.href = elsewhere[0].sessionUrl;
    const finalize = document.querySelector("[data-finalize]");
    const page = document.querySelector("[data-upload-session]");
    if (finalize && page) {
      const moving = this.active(page.dataset.uploadSession);
      finalize.disabled = moving > 0;
      finalize.title = moving ? `Wait for the ${moving} file${moving === 1 ? "" : "s"} still uploading.` : "";
    }
    updateRetryAll();
    paintTransferLine(this.files);
  }

  // --- the session page -----------------------------------------------------------------------
  mount(root) {
    const session = {
      id: root.dataset.uploadSession,
      url: root.dataset.sessionUrl,
      registerUrl: root.dataset.registerUrl,
      signUrl: root.dataset.signUrl,
      completeUrl: root.dataset.completeUrl,
      failUrl: root.dataset.failUrl,
      retryUrl: root.dataset.retryUrl,
      cancelUrl: root.dataset.cancelUrl,
      limits: JSON.parse(document.getElementById("upload-limits").textContent),
    };
    this.rows.statusLabels = Object.fromEntries(JSON.parse(document.getElementById("upload-statuses").textContent));
    // Files added before navigating away come back into view with their live state.
    const mine = [...this.records.values()].filter((record) => record.session.id === session.id);
    this.rows.renderNewRows(mine.filter((record) => !rowFor(record)));
    mine.forEach((record) => {
      record.session = { ...record.session, ...session };
      this.touch(record);
    });
    const zone = root.querySelector("[data-dropzone]");
    const input = root.querySelector("[data-file-input]");
    if (zone && input) {
      const add = (files) => addFiles(this, session, files);
      root.querySelector("[data-pick]")?.addEventListener("click", () => input.click());
      input.addEventListener("change", () => {
        add(input.files);
        input.value = "";
      });
      // A chosen folder brings every file below it, as a dropped one does (hidden files stay behind).
      const folderInput = root.querySelector("[data-folder-input]");
      root.querySelector("[data-pick-folder]")?.addEventListener("click", () => folderInput?.click());
      folderInput?.addEventListener("change", () => {
        const visible = [...folderInput.files].filter((file) => !isHidden(file));
        folderInput.value = "";
        if (visible.length) add(visible);
        else showAlert("Nothing to upload: the folder chosen holds no files.", "info");
      });
      zone.addEventListener("dragover", (event) => {
        event.preventDefault();
        zone.classList.add("is-over");
      });
      zone.addEventListener("dragleave", () => zone.classList.remove("is-over"));
      zone.addEventListener("drop", (event) => {
        event.preventDefault();
        zone.classList.remove("is-over");
        // A dropped folder brings the files of its subfolders too; hidden files (.DS_Store and the like) stay behind.
        const dropped = event.dataTransfer.items.length;
        getDroppedFiles(event.dataTransfer).then((files) => {
          const visible = files.filter((file) => !isHidden(file));
          if (dropped && !visible.length) showAlert("Nothing to upload: the folders dropped hold no files.", "info");
          else add(visible);
        });
      });
    }
    root.addEventListener("click", (event) => {
      const retry = event.target.closest("[data-retry]");
      if (retry) this.completions.retry(session, [retry.dataset.retry]);
      const cancelButton = event.target.closest("[data-cancel]");
      const record = cancelButton && this.records.get(cancelButton.dataset.cancel);
      if (record) cancel(this, [record]);
      const removeButton = event.target.closest("[data-remove]");
      if (removeButton) remove(session, removeButton);
    });
    const cancellable = () => [...this.records.values()].filter((record) => record.session.id === session.id && ACTIVE.has(record.state));
    offerCancelAll(cancellable, (records) => cancel(this, records));
    document.querySelector("[data-retry-all]")?.addEventListener("click", () => {
      const ids = [...document.querySelectorAll('#file-rows tr[data-status="upload_error"]')].map((row) => row.dataset.assetId).filter(Boolean);
      this.completions.retry(session, ids);
    });
    confirmFinalize(() => this.completions.flushCompletes());
    const announcer = root.querySelector("[data-upload-announcer]");
    if (announcer) announceCounts(announcer);
    this.updateBadge();
  }

  // Polled rows replace the page's rows, unless the browser knows better (it is still sending the bytes) or
  // the page already shows that version; rows the page does not show yet (another tab, a script) are added.
  applyServerRows(html) {
    const body = document.getElementById("file-rows");
    if (!body) return;
    const parsed = new DOMParser().parseFromString(html, "text/html");
    const rows = parsed.querySelectorAll("tbody[data-changed-rows] > tr");
    for (const incoming of rows) {
      const current = document.getElementById(incoming.id);
      if (current?.dataset.version === incoming.dataset.version) continue;
      const record = this.files.byAsset.get(incoming.dataset.assetId);
      if (record) {
        if (incoming.dataset.status === "uploading" && record.state !== "failed") continue;
        record.state = "settled";
        // The server has the bytes: the File need not stay referenced (a failed one stays, for Retry).
        if (incoming.dataset.status !== "upload_error") record.file = null;
      }
      const adopted = document.importNode(incoming, true);
      if (current) current.replaceWith(adopted);
      else body.append(adopted);
    }
    if (rows.length) document.querySelector("[data-files-empty]")?.setAttribute("hidden", "");
    const removed = parsed.querySelector("[data-removed-rows]")?.dataset.removedRows.split(" ");
    if (removed) dropRemovedRows(this, removed);
    if (this.tabs.otherTabs.size) this.tabs.showOtherTabs();
    this.scheduleRowChecks();
  }
}

export const uploads = new UploadManager();

export function mountUploads() {
  const root = document.querySelector("[data-upload-session]");
  if (root && !root.dataset.mounted) {
    root.dataset.mounted = "1";
    uploads.mount(root);
  }
  // At once, not at the next paint: a page that arrives by boosted navigation has the header's count hidden.
  uploads.refreshIndicators();
}

// The transfer line says when the browser has lost its connection, and when it is back.
window.addEventListener("offline", () => uploads.updateBadge());
window.addEventListener("online", () => uploads.updateBadge());

// A tab that goes away stops sending: the other tabs need not wait until it goes quiet.
window.addEventListener("pagehide", () => uploads.tabs.sayGoodbye());

window.addEventListener("beforeunload", (event) => {
  if (uploads.active() > 0) {
    event.preventDefault();
    event.returnValue = "";
  }
});
