// Glue between the drop zone, the transfer engine (Uppy, headless, with @uppy/aws-s3) and the
// server-rendered rows of an upload session. One manager lives for the whole tab: htmx-boosted
// navigation swaps the page but keeps this module, so transfers go on while people browse.
import AwsS3 from "@uppy/aws-s3";
import Uppy from "@uppy/core";
import { getDroppedFiles } from "@uppy/core/utils";

const ACTIVE = new Set(["hashing", "registering", "queued", "uploading"]);
// Bytes still to move, or sent but not yet reported to the portal: leaving now would lose the file.
const isBusy = (record) => ACTIVE.has(record.state) || (record.state === "verifying" && !record.reported);
// Completions go out at most this long after the first one waiting, in batches of at most this many (the page
// learns the verdicts from its poll, every 2 s by default, so a shorter wait would show nothing sooner).
const COMPLETE_DELAY_MS = 2000;
const COMPLETE_BATCH = 100;
// Files handed to the transfer engine at a time, per connection it may open; the rest wait in order.
const ENGINE_FILES_PER_CONNECTION = 2;
// Changed rows and the header count are repainted at most this often (the bars glide between paints).
const PAINT_INTERVAL_MS = 200;
// Tabs of the portal in one browser tell each other which files they are sending, this often; a tab not heard from
// for TAB_SILENT_MS was closed or stopped sending.
const TAB_REPORT_MS = 1000;
const TAB_SILENT_MS = 3500;

// `work` runs once at the first frame PAINT_INTERVAL_MS after it is asked for, however often it is asked meanwhile.
function paintLater(work) {
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

function csrfToken() {
  const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
  return match ? decodeURIComponent(match[1]) : "";
}

async function postJSON(url, body) {
  let response;
  try {
    response = await fetch(url, {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken(), Accept: "application/json" },
      body: JSON.stringify(body),
      credentials: "same-origin",
    });
  } catch {
    // fetch says only "Failed to fetch": the request never got an answer.
    const error = new Error("The portal could not be reached: check the connection, then try again.");
    error.status = 0;
    throw error;
  }
  let data = {};
  try {
    data = await response.json();
  } catch {
    data = { error: `The portal answered ${response.status}.` };
  }
  if (!response.ok) {
    const error = new Error(data.error || `The portal answered ${response.status}.`);
    error.status = response.status;
    throw error;
  }
  return data;
}

// What the page tells the portal about files it sent, gave up on or cancelled must not be lost: while the portal cannot
// be reached (the connection dropped, the portal is restarting: no answer, 5xx, 408, 429) the report is sent again
// after growing pauses, and at once when the browser is back online, for up to REPORT_PATIENCE_MS. A refusal ends it.
const REPORT_PAUSES_MS = [1000, 2000, 4000, 8000, 15000, 30000];
const REPORT_PATIENCE_MS = 60 * 60 * 1000;

function portalUnreachable(error) {
  return !error.status || error.status >= 500 || error.status === 408 || error.status === 429;
}

function pause(ms) {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      window.removeEventListener("online", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    window.addEventListener("online", done);
  });
}

async function postPatiently(url, body, onWaiting) {
  const started = Date.now();
  for (let attempt = 0; ; attempt += 1) {
    try {
      return await postJSON(url, body);
    } catch (error) {
      if (!portalUnreachable(error) || Date.now() - started > REPORT_PATIENCE_MS) throw error;
      onWaiting();
      await pause(REPORT_PAUSES_MS[Math.min(attempt, REPORT_PAUSES_MS.length - 1)]);
    }
  }
}

const RECONNECTING = "The connection to the portal was lost: what this page has sent is reported as soon as it is back.";

// The embedded storage signs paths on the portal's own origin; the engine wants whole URLs.
function absolute(signed) {
  return { ...signed, url: new URL(signed.url, window.location.href).href };
}

function formatSize(bytes) {
  const units = ["bytes", "KB", "MB", "GB", "TB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return unit === 0 ? `${value} bytes` : `${value.toFixed(1)} ${units[unit]}`;
}

function formatDuration(seconds) {
  const s = Math.max(1, Math.round(seconds));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, "0")} s`;
  return `${Math.floor(s / 3600)} h ${String(Math.floor((s % 3600) / 60)).padStart(2, "0")} min`;
}

// The overall rate is taken over this long a window: long enough to smooth out files starting and ending.
const RATE_WINDOW_MS = 8000;
const RATE_MIN_MS = 2000;
// The line is repainted at most this often while files move: repainting it with the rows (5 times a second, an
// animated bar always in view) cost Chromium about a fifth more CPU over a 1,500-file upload (bench/upload.py).
const TRANSFER_PAINT_MS = 1000;

// A file whose name, or the name of a folder it was found in, starts with a dot (.DS_Store, .git/…): not an asset.
function isHidden(file) {
  const path = file.webkitRelativePath || file.relativePath || file.name;
  return path.split("/").some((part) => part.startsWith("."));
}

function describeError(error) {
  const status = error?.status ?? error?.cause?.status;
  const code = error?.code ?? error?.serviceCode ?? "";
  if (error?.name === "S3NetworkError" || code === "NETWORK" || status === 0) {
    return "The connection to storage failed several times.";
  }
  if (code === "AccessDenied" || status === 403) return "Storage refused the upload (the signed URL was refused or had expired).";
  if (code === "BadDigest") return "The bytes sent did not match the file's checksum.";
  if (status) return `Storage answered ${status}${code ? ` (${code})` : ""}.`;
  return error?.message || "The transfer failed.";
}

class HashPool {
  constructor(url, size) {
    this.pending = new Map();
    this.next = 0;
    this.workers = Array.from({ length: size }, () => {
      const worker = new Worker(url, { type: "module" });
      worker.onmessage = ({ data }) => {
        const waiter = this.pending.get(data.id);
        this.pending.delete(data.id);
        if (data.error) waiter?.reject(new Error(data.error));
        else waiter?.resolve(data.sha256);
      };
      return worker;
    });
  }

  hash(id, file) {
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.workers[this.next++ % this.workers.length].postMessage({ id, file });
    });
  }
}

class UploadManager {
  constructor() {
    this.records = new Map(); // client id -> record
    this.byAsset = new Map();
    this.byKey = new Map();
    this.bySha = new Map(); // "session sha256" -> the record of this tab registered with that content
    this.putCache = new Map(); // object key -> signed single PUT handed out by register/retry
    this.completeQueues = new Map(); // session id -> { ids, timer, url }
    this.dirty = new Set();
    this.flushSoon = paintLater(() => this.flush());
    this.scheduleRowChecks = paintLater(() => this.refreshIndicators());
    this.sequence = 0;
    this.hashes = null;
    this.uppy = null;
    this.partSize = 16 * 1024 * 1024;
    this.waiting = []; // records with transfer instructions, not yet handed to the engine
    this.registering = new Set(); // drops still being hashed: each one's "register what you have" callback
    this.inEngine = 0;
    this.concurrency = 1;
    this.reportsWaiting = 0; // reports to the portal waiting for the connection to come back
    // The files this tab is sending together, for the overall line: a new run starts when files are added to an idle tab.
    this.run = null;
    this.runs = 0;
    // What the other tabs of this browser are sending: tab id -> { at, sessionUrl, count,
    // files: Map(asset id -> progress, -1 while waiting for a connection), contents: Set("session sha256") }.
    this.tabId = `t${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`;
    this.otherTabs = new Map();
    this.doneTabs = new Set(); // tabs that finished sending: what they sent was reported to the portal
    this.reporting = 0; // the interval of this tab's own reports, while it sends
    this.checkingTabs = 0; // the timer that notices another tab going quiet
    this.showOtherTabsSoon = paintLater(() => this.showOtherTabs());
    if ("BroadcastChannel" in window) {
      this.channel = new BroadcastChannel("portal-uploads");
      this.channel.onmessage = ({ data }) => this.heardFrom(data);
      this.channel.postMessage({ tab: this.tabId, hello: true }); // tabs already sending report at once
    }
  }

  // --- other tabs of this browser ---------------------------------------------------------------
  // A tab sending files reports them every TAB_REPORT_MS: another tab showing the same session shows those rows as
  // moving (rather than offering to remove them, or to add them again), and every tab's header counts them.
  reportToOtherTabs() {
    if (!this.channel) return;
    const files = [];
    let count = 0;
    let sessionUrl = "";
    for (const record of this.records.values()) {
      const sent = record.state === "verifying";
      if (record.assetId && (sent || ACTIVE.has(record.state))) {
        // Progress, or -1 for a file still waiting for a connection.
        const progress = sent ? 1 : record.state === "queued" ? -1 : record.progress;
        files.push([record.assetId, progress, `${record.session.id} ${record.sha256}`]);
      }
      if (!isBusy(record)) continue;
      count += 1;
      sessionUrl ||= record.session.url;
    }
    this.channel.postMessage({ tab: this.tabId, count, sessionUrl, files });
    if (!count) {
      clearInterval(this.reporting);
      this.reporting = 0;
    }
  }

  startReporting() {
    if (this.channel && !this.reporting) {
      this.reporting = setInterval(() => this.reportToOtherTabs(), TAB_REPORT_MS);
      this.reportToOtherTabs();
    }
  }

  heardFrom({ tab, hello, count, sessionUrl, files, gone }) {
    if (!tab || tab === this.tabId) return;
    if (hello) {
      if (this.active()) this.reportToOtherTabs();
      return;
    }
    if (count) {
      const contents = new Set(files.map(([, , content]) => content));
      this.otherTabs.set(tab, { at: Date.now(), count, sessionUrl, files: new Map(files), contents });
    } else {
      this.otherTabs.delete(tab);
      if (!gone) this.doneTabs.add(tab);
    }
    this.showOtherTabsSoon();
    this.updateBadge();
  }

  // The other tabs still heard from (a tab closed while sending goes quiet: what it was sending is not moving).
  // Returns their last reports.
  liveOtherTabs() {
    const now = Date.now();
    for (const [tab, heard] of this.otherTabs) if (now - heard.at > TAB_SILENT_MS) this.otherTabs.delete(tab);
    if (this.otherTabs.size && !this.checkingTabs) {
      this.checkingTabs = setTimeout(() => {
        this.checkingTabs = 0;
        this.showOtherTabs();
        this.updateBadge();
      }, TAB_SILENT_MS);
    }
    return [...this.otherTabs.values()];
  }

  // Rows of files another tab is sending show its progress; once it goes quiet they are back as the portal rendered them.
  showOtherTabs() {
    this.liveOtherTabs();
    const sending = new Map();
    for (const [tab, heard] of this.otherTabs) for (const [assetId, progress] of heard.files) sending.set(assetId, [tab, progress]);
    for (const row of document.querySelectorAll('#file-rows > tr[data-status="uploading"][data-asset-id]')) {
      const assetId = row.dataset.assetId;
      if (this.byAsset.has(assetId)) continue;
      if (!sending.has(assetId)) {
        // A file the other tab sent is the portal's to check, and the next poll brings its verdict; unless that tab
        // went away before telling the portal, or was still sending it.
        const from = row.dataset.otherTabId;
        const told = row.dataset.otherTab === "sent" && (this.otherTabs.has(from) || this.doneTabs.has(from));
        if (row.dataset.otherTab && !told) this.restoreRow(row);
        continue;
      }
      const [tab, progress] = sending.get(assetId);
      if (!row.dataset.otherTab) row.dataset.serverReason = row.cells[4].innerHTML;
      const state = progress >= 1 ? "sent" : progress < 0 ? "waiting" : "sending";
      row.dataset.otherTab = state;
      row.dataset.otherTabId = tab;
      row.querySelector(".progress > span").style.transform = `scaleX(${Math.max(progress, 0)})`;
      row.querySelector(".progress").setAttribute("aria-valuenow", String(Math.round(Math.max(progress, 0) * 100)));
      row.cells[4].textContent = {
        sent: "Sent from another tab; checking what storage received",
        waiting: "Waiting for a free connection in another tab",
        sending: "Being sent from another tab",
      }[state];
      const remove = row.querySelector("[data-remove]");
      if (remove) remove.hidden = true;
    }
  }

  restoreRow(row) {
    row.cells[4].innerHTML = row.dataset.serverReason || "";
    row.querySelector(".progress > span").style.transform = "scaleX(0)";
    row.querySelector(".progress").setAttribute("aria-valuenow", "0");
    const remove = row.querySelector("[data-remove]");
    if (remove) remove.hidden = false;
    delete row.dataset.otherTab;
    delete row.dataset.otherTabId;
    delete row.dataset.serverReason;
  }

  joinRun(session, records) {
    const joining = new Set(records);
    const runGoesOn = this.run?.sessionId === session.id &&
      [...this.records.values()].some((record) => record.run === this.run.id && !joining.has(record) && isBusy(record));
    if (!runGoesOn) {
      this.run = { id: ++this.runs, sessionId: session.id, started: performance.now(), ended: 0, samples: [] };
    }
    records.forEach((record) => (record.run = this.run.id));
  }

  // --- engine ---------------------------------------------------------------------------------
  engine(concurrency) {
    if (this.uppy) return this.uppy;
    this.concurrency = concurrency;
    this.uppy = new Uppy({ autoProceed: false, allowMultipleUploadBatches: true });
    this.uppy.use(AwsS3, {
      limit: concurrency,
      shouldUseMultipart: (file) => Boolean(file.meta.multipart),
      // Called with the size only; every multipart file gets the part size the server named.
      getChunkSize: () => this.partSize,
      generateObjectKey: (file) => file.meta.key,
      signRequest: (request) => this.sign(request),
    });
    this.uppy.on("upload-progress", (file, progress) => {
      const record = this.byKey.get(file?.meta.key);
      if (!record) return;
      record.state = "uploading";
      record.progress = progress.bytesTotal ? progress.bytesUploaded / progress.bytesTotal : 0;
      this.touch(record);
    });
    this.uppy.on("upload-success", (file) => {
      const record = this.byKey.get(file?.meta.key);
      if (!record) return; // cancelled meanwhile: cancel() took it out of the engine
      this.leaveEngine(file);
      record.state = "verifying";
      record.progress = 1;
      this.touch(record);
      this.queueComplete(record);
    });
    this.uppy.on("upload-error", (file, error) => {
      const record = this.byKey.get(file?.meta.key);
      if (!record) return;
      this.leaveEngine(file);
      this.markFailed(record, describeError(error), true);
    });
    return this.uppy;
  }

  async sign(request) {
    if (request.method === "PUT" && !request.uploadId) {
      const cached = this.putCache.get(request.key);
      if (cached) {
        this.putCache.delete(request.key);
        return absolute(cached);
      }
    }
    const record = this.byKey.get(request.key);
    if (!record) throw new Error("This file is no longer part of an upload.");
    const signed = await postJSON(record.session.signUrl, {
      method: request.method,
      key: request.key,
      uploadId: request.uploadId,
      partNumber: request.partNumber,
    });
    return absolute(signed);
  }

  // --- adding files ---------------------------------------------------------------------------
  async addFiles(session, fileList) {
    const files = Array.from(fileList).filter((file) => file.size !== undefined);
    this.hideAlert();
    if (!files.length) return;
    if (files.length > session.limits.perDrop) {
      this.showAlert(
        `${files.length} files were added at once; add at most ${session.limits.perDrop} at a time, then the next ones. Nothing from this drop was added.`,
      );
      return;
    }
    const records = files.map((file) => {
      const record = {
        cid: `f${Date.now().toString(36)}${(this.sequence++).toString(36)}`,
        file,
        name: file.name,
        size: file.size,
        type: file.type,
        session,
        state: "hashing",
        progress: 0,
        reason: "",
      };
      this.records.set(record.cid, record);
      return record;
    });
    this.joinRun(session, records);
    this.renderNewRows(records);
    this.updateBadge();

    // The drop is registered in parts as checksums finish, whenever the transfers are about to run out of
    // files: the first files start moving while the others are still being read (a drop of large videos
    // would otherwise wait for every checksum), and a drop of small files still goes in a request or two.
    // Its first part keeps room in the session for the whole drop, or the whole drop is refused.
    if (!this.uppy) this.concurrency = session.limits.concurrency;
    const drop = { id: `d${Date.now().toString(36)}${(this.sequence++).toString(36)}`, size: records.length };
    const parts = {
      hashed: [], sending: false, allHashed: false, registered: 0, refused: false, duplicates: [], announced: false, giveBack: 0,
    };
    records.forEach((record) => (record.drop = { drop, parts }));
    let finished;
    const done = new Promise((resolve) => (finished = resolve));
    const send = () => {
      if (parts.sending) return;
      if (parts.refused || (parts.allHashed && !parts.hashed.length)) {
        this.registering.delete(send);
        return finished();
      }
      if (!parts.hashed.length || (!parts.allHashed && !this.runningLow())) return;
      const batch = parts.hashed.splice(0).filter(({ record }) => record.state !== "cancelled");
      if (!batch.length) return send();
      parts.sending = true;
      parts.announced = true;
      this.registerPart(session, drop, records, batch, parts).finally(() => {
        parts.sending = false;
        send();
      });
    };
    this.registering.add(send);
    const hashes = this.hashPool();
    await Promise.all(
      records.map((record) =>
        hashes.hash(record.cid, record.file).then(
          (sha256) => {
            if (parts.refused || record.state === "cancelled") return;
            parts.hashed.push({ record, sha256 });
            send();
          },
          (error) => {
            if (record.state === "cancelled") return;
            record.state = "refused";
            record.reason = error.message;
            this.touch(record);
          },
        ),
      ),
    );
    parts.allHashed = true;
    send();
    await done;
    if (parts.duplicates.length) this.showDuplicates(parts.duplicates, records.length);
    this.updateBadge();
  }

  // Fewer files wait for a connection than the engine could start: drops being hashed should register what they have.
  runningLow() {
    return this.waiting.length + this.inEngine < ENGINE_FILES_PER_CONNECTION * this.concurrency;
  }

  async registerPart(session, drop, records, batch, parts) {
    if (parts.refused) return;
    batch.forEach(({ record }) => {
      record.state = "registering";
      this.touch(record);
    });
    let answer;
    try {
      answer = await postJSON(session.registerUrl, {
        drop,
        files: batch.map(({ record, sha256 }) => {
          // A file of the session still Uploading with this content is resumed, unless this tab or another tab of this
          // browser is sending it (registering it, or sent it and the portal is checking what arrived): then this one
          // is a duplicate.
          const resume = !this.sendingHere(session, sha256) && !this.sendingInAnotherTab(session, sha256);
          record.sha256 = sha256;
          if (resume) this.bySha.set(`${session.id} ${sha256}`, record);
          return { clientId: record.cid, name: record.name, size: record.size, contentType: record.type, sha256, resume };
        }),
      });
    } catch (error) {
      if (!parts.registered) {
        // The first part was refused, so the whole drop was and nothing was added: say why and take its rows away.
        parts.refused = true;
        records.forEach((record) => this.forget(record));
        this.showAlert(error.message);
      } else {
        // A later part could not be added (the session was finalized meanwhile, the connection failed): its files say why.
        batch.forEach(({ record }) => {
          record.state = "refused";
          record.reason = error.message;
          record.file = null;
          this.touch(record);
        });
      }
      return this.updateBadge();
    }
    const unsent = parts.registered ? [] : [{ id: drop.id, files: parts.giveBack }].filter((entry) => entry.files);
    parts.registered += batch.length;
    const toUpload = [];
    const cancelledOnTheWay = [];
    const sent = new Map(batch.map(({ record }) => [record.cid, record]));
    for (const result of answer.files) {
      const record = sent.get(result.clientId);
      if (!record) continue;
      if (result.outcome !== "upload") this.forgetContent(record);
      if (record.state === "cancelled") {
        if (result.outcome === "upload") cancelledOnTheWay.push(result.assetId);
      } else if (result.outcome === "upload") {
        this.assign(record, result);
        toUpload.push(record);
      } else if (result.outcome === "duplicate") {
        record.state = "duplicate";
        record.reason = result.reason;
        record.file = null;
        parts.duplicates.push(record);
        this.touch(record);
      } else {
        record.state = "refused";
        record.reason = result.reason;
        record.file = null;
        this.touch(record);
      }
    }
    this.start(session, toUpload);
    this.updateBadge();
    this.showCounts(session, answer);
    if (cancelledOnTheWay.length || unsent.length) this.cancelOnServer(session, cancelledOnTheWay, unsent);
  }

  // The summary is the server's (each poll brings it); what a registration changed shows before the next poll.
  showCounts(session, answer) {
    if (session.id !== this.pageSessionId()) return;
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

  hashPool() {
    if (!this.hashes) {
      const url = document.body.dataset.hashWorker;
      this.hashes = new HashPool(url, Math.max(1, Math.min(2, (navigator.hardwareConcurrency || 2) - 1)));
    }
    return this.hashes;
  }

  assign(record, instructions) {
    if (record.key) this.byKey.delete(record.key);
    // The same content added again retried (or resumed) a file this tab knew under another record: that one is done.
    const earlier = this.byAsset.get(instructions.assetId);
    if (earlier && earlier !== record) {
      this.records.delete(earlier.cid);
      if (earlier.key) this.byKey.delete(earlier.key);
    }
    const oldRow = this.rowFor(record);
    record.assetId = instructions.assetId;
    record.key = instructions.key;
    record.multipart = Boolean(instructions.multipart);
    if (record.multipart) this.partSize = instructions.multipart.partSize;
    record.state = "queued";
    record.progress = 0;
    record.reason = "";
    record.reported = false;
    this.byAsset.set(record.assetId, record);
    this.byKey.set(record.key, record);
    if (instructions.put) this.putCache.set(record.key, instructions.put);
    // The row takes the asset's id, so the server's polled rows and this record meet.
    const existing = document.getElementById(`asset-${record.assetId}`);
    if (oldRow && existing && existing !== oldRow) oldRow.remove();
    else if (oldRow) oldRow.id = `asset-${record.assetId}`;
    this.touch(record);
  }

  // Files wait in this manager's queue and join the engine a few at a time: Uppy copies its whole file list
  // on every state change, so 1,500 files handed over at once made each progress event cost 1,500 copies.
  start(session, records) {
    if (!records.length) return;
    this.engine(session.limits.concurrency);
    this.waiting.push(...records);
    this.pump();
  }

  pump() {
    if (!this.uppy) return;
    const room = ENGINE_FILES_PER_CONNECTION * this.concurrency - this.inEngine;
    if (room <= 0 || !this.waiting.length) return;
    const records = this.waiting.splice(0, room).filter((record) => record.state === "queued" && record.file);
    if (!records.length) return this.pump();
    this.inEngine += records.length;
    this.uppy.addFiles(
      records.map((record) => ({
        name: record.name,
        type: record.type || "application/octet-stream",
        data: record.file,
        meta: { key: record.key, multipart: record.multipart, assetId: record.assetId },
        source: record.cid,
        isRemote: false,
      })),
    );
    this.uppy.upload().catch(() => {});
  }

  // A file left the engine (sent or failed): the next waiting ones may join.
  leaveEngine(file) {
    this.inEngine = Math.max(0, this.inEngine - 1);
    setTimeout(() => {
      this.uppy.removeFile(file.id);
      this.pump();
      if (this.runningLow()) this.registering.forEach((send) => send());
    }, 0);
  }

  // --- completion, failure and retry ----------------------------------------------------------
  queueComplete(record) {
    const session = record.session;
    let queue = this.completeQueues.get(session.id);
    if (!queue) {
      queue = { ids: [], keys: {}, timer: 0, url: session.completeUrl, sending: Promise.resolve() };
      this.completeQueues.set(session.id, queue);
    }
    queue.ids.push(record.assetId);
    // Where it went: if another tab resumed the same file meanwhile, this transfer is no longer the file's.
    queue.keys[record.assetId] = record.key;
    // The last file of a run is not kept waiting for others that will not come.
    const lastOne = this.inEngine === 0 && !this.waiting.length && !this.registering.size;
    if (queue.ids.length >= COMPLETE_BATCH || lastOne) this.sendCompletes(queue);
    else if (!queue.timer) queue.timer = setTimeout(() => this.sendCompletes(queue), COMPLETE_DELAY_MS);
    this.updateBadge();
  }

  sendCompletes(queue) {
    clearTimeout(queue.timer);
    queue.timer = 0;
    const ids = queue.ids.splice(0, queue.ids.length);
    const keys = queue.keys;
    queue.keys = {};
    if (ids.length) {
      const sent = this.report(queue.url, { assetIds: ids, keys })
        .then(() => {
          ids.forEach((id) => {
            const record = this.byAsset.get(id);
            if (record) record.reported = true;
          });
          this.updateBadge();
        })
        .catch((error) => this.showAlert(error.message));
      queue.sending = Promise.all([queue.sending, sent]);
    }
    return queue.sending;
  }

  // A report the portal must get (see postPatiently); while one waits for the connection, the page says so.
  async report(url, body) {
    let waited = false;
    try {
      return await postPatiently(url, body, () => {
        if (!waited) this.reportsWaiting += 1;
        waited = true;
        this.showAlert(RECONNECTING, "info");
      });
    } finally {
      const alert = document.querySelector("[data-upload-alert]");
      if (waited && --this.reportsWaiting === 0 && alert?.textContent === RECONNECTING) this.hideAlert();
    }
  }

  // Completions are batched for a moment; Finalize sends what is waiting first.
  flushCompletes() {
    return Promise.all([...this.completeQueues.values()].map((queue) => this.sendCompletes(queue)));
  }

  markFailed(record, reason, report) {
    record.state = "failed";
    record.reason = `${reason} Retry to upload it again.`;
    this.touch(record);
    this.updateBadge();
    if (report && record.assetId) {
      this.report(record.session.failUrl, { failures: [{ assetId: record.assetId, reason }] }).catch(() => {});
    }
  }

  async retry(session, assetIds) {
    const withFile = assetIds.filter((id) => this.byAsset.get(id)?.file);
    const withoutFile = assetIds.filter((id) => !this.byAsset.get(id)?.file);
    if (withFile.length) {
      try {
        const answer = await postJSON(session.retryUrl, { assetIds: withFile });
        const records = answer.files.map((instructions) => {
          const record = this.byAsset.get(instructions.assetId);
          record.session = session;
          return record;
        });
        this.joinRun(session, records);
        records.forEach((record, index) => this.assign(record, answer.files[index]));
        this.start(session, records);
      } catch (error) {
        this.showAlert(error.message);
      }
    }
    if (withoutFile.length) {
      // After a reload the browser no longer has the file: choosing it again resumes it (same content, same asset).
      this.showAlert(
        `Select ${withoutFile.length === 1 ? "the failed file" : `the ${withoutFile.length} failed files`} again to retry: this tab no longer holds ${withoutFile.length === 1 ? "it" : "them"}.`,
        "info",
      );
      document.querySelector("[data-file-input]")?.click();
    }
    this.updateBadge();
  }

  // The person stopped these files: out of the engine and the queues, out of the session on the server, rows gone.
  // Files still being read were never sent: their drop gives back the room it kept for them.
  cancel(records, { tellPortal = true } = {}) {
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
        const waiting = this.waiting.indexOf(record);
        if (waiting >= 0) this.waiting.splice(waiting, 1);
        const inEngine = this.uppy?.getFiles().find((file) => file.meta.key === record.key);
        if (inEngine) {
          this.byKey.delete(record.key); // the engine's events about it are ignored from now on
          this.uppy.removeFile(inEngine.id);
          this.inEngine = Math.max(0, this.inEngine - 1);
        }
      } else if (was === "hashing") {
        const unsent = this.neverSent(record);
        if (unsent) entry.drops.set(unsent.id, (entry.drops.get(unsent.id) || 0) + 1);
      }
      // A file whose part is being registered is cancelled when the answer names it (registerPart).
      if (this.run && record.run === this.run.id) this.run.cancelled = (this.run.cancelled || 0) + 1;
      this.forget(record);
    }
    this.showEmptyTable();
    for (const { session, ids, drops } of bySession.values()) {
      const unsent = [...drops].map(([id, files]) => ({ id, files }));
      if (tellPortal && (ids.length || unsent.length)) this.cancelOnServer(session, ids, unsent);
    }
    this.registering.forEach((send) => send());
    this.pump();
    this.updateBadge();
  }

  // A row of a file no tab of this page is sending (cut off by a reload): it leaves the session, unless its bytes
  // arrived meanwhile.
  remove(session, button) {
    button.disabled = true;
    postJSON(session.cancelUrl, { assetIds: [button.dataset.remove] }).then(
      (answer) => {
        if (answer.cancelled) button.closest("tr")?.remove();
        else this.showAlert("That file is no longer waiting for its bytes: they arrived meanwhile.", "info");
        this.showEmptyTable();
      },
      (error) => {
        button.disabled = false;
        this.showAlert(error.message);
      },
    );
  }

  // Files that left the session elsewhere (cancelled or removed on another page): their rows go here too, and a
  // transfer this page was still making of one of them stops (the portal no longer has the file).
  dropRemovedRows(assetIds) {
    const sending = [];
    for (const assetId of assetIds) {
      const record = this.byAsset.get(assetId);
      if (record && ACTIVE.has(record.state)) sending.push(record);
      else if (record) this.forget(record);
      else document.getElementById(`asset-${assetId}`)?.remove();
    }
    if (sending.length) this.cancel(sending, { tellPortal: false });
    this.showEmptyTable();
    this.updateBadge();
  }

  showEmptyTable() {
    if (!document.querySelector("#file-rows > tr")) document.querySelector("[data-files-empty]")?.removeAttribute("hidden");
  }

  sendingHere(session, sha256) {
    const twin = this.bySha.get(`${session.id} ${sha256}`);
    return Boolean(twin && (ACTIVE.has(twin.state) || twin.state === "verifying"));
  }

  sendingInAnotherTab(session, sha256) {
    return this.liveOtherTabs().some((heard) => heard.contents.has(`${session.id} ${sha256}`));
  }

  // A file of a drop that will never be registered: the drop announces itself smaller, or, once its first part kept
  // room in the session for the whole drop, the portal is told to give that file's room back (returned for cancel).
  // While the first part is on its way the portal has kept nothing yet: the room goes back when its answer comes.
  neverSent(record) {
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

  cancelOnServer(session, assetIds, drops) {
    return this.report(session.cancelUrl, { assetIds, drops }).catch((error) => this.showAlert(error.message));
  }

  forgetContent(record) {
    if (record.sha256 && this.bySha.get(`${record.session.id} ${record.sha256}`) === record) {
      this.bySha.delete(`${record.session.id} ${record.sha256}`);
    }
  }

  forget(record) {
    this.records.delete(record.cid);
    this.forgetContent(record);
    if (record.assetId) this.byAsset.delete(record.assetId);
    if (record.key) {
      this.byKey.delete(record.key);
      this.putCache.delete(record.key);
    }
    this.rowFor(record)?.remove();
  }

  // --- counts ---------------------------------------------------------------------------------
  // Files whose bytes are moving, or sent but not yet reported to the portal: leaving now would lose them.
  active(sessionId) {
    let count = 0;
    for (const record of this.records.values()) {
      if (isBusy(record) && (!sessionId || record.session.id === sessionId)) count += 1;
    }
    return count;
  }

  // The header count, Finalize and Retry all failed are refreshed at most once per paint interval.
  updateBadge() {
    this.scheduleRowChecks();
  }

  refreshIndicators() {
    if (this.active()) this.startReporting();
    const badge = document.getElementById("upload-badge");
    if (!badge) return;
    const elsewhere = this.liveOtherTabs();
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
    this.updateRetryAll();
    this.refreshTransfer();
  }

  // The line above the table: how far the files this tab is sending together have got, how fast, and how long is left.
  refreshTransfer() {
    const strip = document.querySelector("[data-transfer]");
    if (!strip) return;
    const run = this.run;
    if (!run || run.sessionId !== this.pageSessionId()) {
      strip.hidden = true;
      return;
    }
    let files = 0, sent = 0, failed = 0, moving = 0, preparing = 0, bytesTotal = 0, bytesSent = 0;
    for (const record of this.records.values()) {
      if (record.run !== run.id || record.state === "duplicate" || record.state === "refused") continue;
      files += 1;
      if (record.state === "hashing" || record.state === "registering") preparing += 1;
      if (record.state === "failed") {
        failed += 1;
        continue;
      }
      bytesTotal += record.size;
      if (ACTIVE.has(record.state)) {
        moving += 1;
        bytesSent += record.state === "uploading" ? record.progress * record.size : 0;
      } else {
        sent += 1;
        bytesSent += record.size;
      }
    }
    if (!files && run.cancelled) {
      // Every file of the run was cancelled: say so, rather than take the line away with the rows.
      strip.hidden = false;
      strip.querySelector("[data-cancel-all]")?.setAttribute("hidden", "");
      strip.querySelector("[data-transfer-title]").textContent = `Cancelled ${run.cancelled.toLocaleString("en-US")} file${run.cancelled === 1 ? "" : "s"}`;
      strip.querySelector("[data-transfer-detail]").textContent = "Nothing of them stays in this session.";
      strip.querySelector(".progress").hidden = true;
      return;
    }
    if (!files) {
      strip.hidden = true;
      return;
    }
    strip.querySelector(".progress").hidden = false;
    const now = performance.now();
    if (moving && now - (run.paintedAt || 0) < TRANSFER_PAINT_MS) return;
    run.paintedAt = now;
    run.samples.push([now, bytesSent]);
    while (run.samples.length > 2 && now - run.samples[1][0] > RATE_WINDOW_MS) run.samples.shift();
    const [since, bytesThen] = run.samples[0];
    const rate = now - since >= RATE_MIN_MS ? ((bytesSent - bytesThen) * 1000) / (now - since) : 0;
    let failures = failed ? ` · ${failed.toLocaleString("en-US")} failed` : "";
    if (run.cancelled) failures += ` · ${run.cancelled.toLocaleString("en-US")} cancelled`;
    let title;
    let detail;
    if (preparing && !bytesSent) {
      title = `Preparing ${files.toLocaleString("en-US")} file${files === 1 ? "" : "s"}`;
      detail = `${formatSize(bytesTotal)} · computing checksums and checking for duplicates`;
    } else if (moving) {
      run.ended = 0;
      title = `Sent ${sent.toLocaleString("en-US")} of ${(files - failed).toLocaleString("en-US")} file${files - failed === 1 ? "" : "s"}`;
      detail = `${formatSize(Math.round(bytesSent))} of ${formatSize(bytesTotal)}`;
      if (!navigator.onLine) detail += " · no connection: the files go on when it is back";
      else if (rate > 0) detail += ` · ${formatSize(Math.round(rate))}/s · about ${formatDuration((bytesTotal - bytesSent) / rate)} left`;
    } else {
      run.ended ||= now;
      title = `Sent ${sent.toLocaleString("en-US")} file${sent === 1 ? "" : "s"}`;
      detail = `${formatSize(bytesTotal)} in ${formatDuration((run.ended - run.started) / 1000)}`;
    }
    strip.hidden = false;
    const cancelAll = strip.querySelector("[data-cancel-all]");
    if (cancelAll) cancelAll.hidden = !moving;
    strip.querySelector("[data-transfer-title]").textContent = title;
    strip.querySelector("[data-transfer-detail]").textContent = detail + failures;
    const bar = strip.querySelector(".progress");
    const share = bytesTotal ? bytesSent / bytesTotal : 1;
    bar.setAttribute("aria-valuenow", String(Math.round(share * 100)));
    bar.firstElementChild.style.transform = `scaleX(${share})`;
    bar.firstElementChild.className = moving ? "" : "is-done";
  }

  updateRetryAll() {
    const button = document.querySelector("[data-retry-all]");
    if (!button) return;
    const failed = document.querySelectorAll('#file-rows tr[data-status="upload_error"]').length;
    button.hidden = failed === 0;
    button.textContent = `Retry all failed (${failed})`;
  }

  // --- rows -----------------------------------------------------------------------------------
  rowFor(record) {
    return (record.assetId && document.getElementById(`asset-${record.assetId}`)) || document.getElementById(`file-${record.cid}`);
  }

  renderNewRows(records) {
    const body = document.getElementById("file-rows");
    if (!body) return;
    const fragment = document.createDocumentFragment();
    for (const record of records) {
      if (record.session.id !== this.pageSessionId()) continue;
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
    body.append(fragment);
    document.querySelector("[data-files-empty]")?.setAttribute("hidden", "");
  }

  pageSessionId() {
    return document.querySelector("[data-upload-session]")?.dataset.uploadSession;
  }

  // Rows are repainted a few times a second, not on every progress event: with six transfers at once,
  // painting each event kept the page's main thread busy enough to slow the transfers down.
  touch(record) {
    this.dirty.add(record);
    this.flushSoon();
  }

  flush() {
    const pageSession = this.pageSessionId();
    for (const record of this.dirty) {
      if (record.session.id !== pageSession) continue;
      const row = this.rowFor(record);
      if (row) this.paint(record, row);
    }
    this.dirty.clear();
    this.refreshTransfer();
  }

  paint(record, row) {
    const labels = {
      hashing: ["uploading", "Uploading", "Preparing (computing its checksum)"],
      registering: ["uploading", "Uploading", "Preparing"],
      queued: ["uploading", "Uploading", "Waiting for a free connection"],
      uploading: ["uploading", "Uploading", ""],
      verifying: ["uploading", "Uploading", "Sent; checking what storage received"],
      failed: ["upload_error", "Upload Error", record.reason],
      duplicate: ["skipped", "Skipped", record.reason],
      refused: ["refused", "Refused", record.reason],
    };
    // Once the server has the last word (done, or failed after the bytes arrived) its row stays as rendered.
    if (!labels[record.state]) return;
    const [status, label, note] = labels[record.state];
    row.dataset.status = status;
    row.classList.toggle("is-skipped", record.state === "duplicate");
    const badge = row.querySelector(".badge") || row.cells[3];
    badge.className = `badge badge-${status}`;
    badge.textContent = label;
    const bar = row.querySelector(".progress");
    const fill = bar?.firstElementChild;
    if (bar && fill) {
      const percent = Math.round(record.progress * 100);
      bar.classList.toggle("is-indeterminate", record.state === "hashing" || record.state === "registering");
      bar.setAttribute("aria-valuenow", String(percent));
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

  // --- messages -------------------------------------------------------------------------------
  showAlert(message, kind = "error") {
    const alert = document.querySelector("[data-upload-alert]");
    if (!alert) return window.alert(message);
    alert.className = `alert alert-${kind}`;
    alert.textContent = message;
    alert.hidden = false;
  }

  hideAlert() {
    const alert = document.querySelector("[data-upload-alert]");
    if (alert) alert.hidden = true;
  }

  showDuplicates(records, dropped) {
    const dialog = document.querySelector("[data-duplicates-dialog]");
    if (!dialog) return;
    dialog.querySelector("[data-duplicates-count]").textContent =
      `${records.length} duplicate file${records.length === 1 ? " was" : "s were"} skipped`;
    const rest = dialog.querySelector("[data-duplicates-rest]");
    if (rest) rest.textContent = records.length < dropped ? "The other files are uploading." : "Nothing else was in this drop.";
    const list = dialog.querySelector("[data-duplicates-list]");
    list.replaceChildren(
      ...records.map((record) => {
        const item = document.createElement("li");
        item.textContent = `${record.name} — ${record.reason}`;
        return item;
      }),
    );
    if (!dialog.open) dialog.showModal();
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
    // Files added before navigating away come back into view with their live state.
    const mine = [...this.records.values()].filter((record) => record.session.id === session.id);
    this.renderNewRows(mine.filter((record) => !this.rowFor(record)));
    mine.forEach((record) => {
      record.session = { ...record.session, ...session };
      this.touch(record);
    });
    const zone = root.querySelector("[data-dropzone]");
    const input = root.querySelector("[data-file-input]");
    if (zone && input) {
      const add = (files) => this.addFiles(session, files);
      root.querySelector("[data-pick]")?.addEventListener("click", () => input.click());
      zone.addEventListener("keydown", (event) => {
        if (event.key === "Enter" || event.key === " ") {
          event.preventDefault();
          input.click();
        }
      });
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
        else this.showAlert("Nothing to upload: the folder chosen holds no files.", "info");
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
          if (dropped && !visible.length) this.showAlert("Nothing to upload: the folders dropped hold no files.", "info");
          else add(visible);
        });
      });
    }
    root.addEventListener("click", (event) => {
      const retry = event.target.closest("[data-retry]");
      if (retry) this.retry(session, [retry.dataset.retry]);
      const cancel = event.target.closest("[data-cancel]");
      const record = cancel && this.records.get(cancel.dataset.cancel);
      if (record) this.cancel([record]);
      const remove = event.target.closest("[data-remove]");
      if (remove) this.remove(session, remove);
    });
    const cancelDialog = document.querySelector("[data-cancel-dialog]");
    const cancellable = () => [...this.records.values()].filter((record) => record.session.id === session.id && ACTIVE.has(record.state));
    document.querySelector("[data-cancel-all]")?.addEventListener("click", () => {
      const count = cancellable().length;
      if (!count || !cancelDialog) return;
      cancelDialog.querySelector("[data-cancel-count]").textContent =
        `${count.toLocaleString("en-US")} file${count === 1 ? " has" : "s have"} not been sent yet.`;
      cancelDialog.returnValue = "";
      cancelDialog.showModal();
    });
    cancelDialog?.addEventListener("close", () => {
      if (cancelDialog.returnValue === "cancel") this.cancel(cancellable());
    });
    document.querySelector("[data-retry-all]")?.addEventListener("click", () => {
      const ids = [...document.querySelectorAll('#file-rows tr[data-status="upload_error"]')].map((row) => row.dataset.assetId).filter(Boolean);
      this.retry(session, ids);
    });
    const form = document.querySelector("[data-finalize-form]");
    // htmx asks before it sends the (boosted) form: send pending completions first, then confirm failures.
    form?.addEventListener("htmx:confirm", (event) => {
      event.preventDefault();
      this.flushCompletes().then(() => {
        const failed = document.querySelectorAll('#file-rows tr[data-status="upload_error"]').length;
        if (failed === 0) return event.detail.issueRequest(true);
        const dialog = document.querySelector("[data-finalize-dialog]");
        dialog.querySelector("[data-finalize-failed]").textContent = `${failed} failed file${failed === 1 ? "" : "s"}`;
        dialog.addEventListener(
          "close",
          () => {
            if (dialog.returnValue === "confirm") event.detail.issueRequest(true);
            // The session stays open: Finalize again once the retried files are through.
            else if (dialog.returnValue === "retry") document.querySelector("[data-retry-all]")?.click();
          },
          { once: true },
        );
        dialog.showModal();
      });
    });
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
      const record = this.byAsset.get(incoming.dataset.assetId);
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
    if (removed) this.dropRemovedRows(removed);
    if (this.otherTabs.size) this.showOtherTabs();
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
window.addEventListener("pagehide", () =>
  uploads.channel?.postMessage({ tab: uploads.tabId, count: 0, files: [], gone: uploads.active() > 0 }),
);

window.addEventListener("beforeunload", (event) => {
  if (uploads.active() > 0) {
    event.preventDefault();
    event.returnValue = "";
  }
});
