// The file records of this tab and their states: one record per file added, found by client id, asset, object key or
// content. A record goes hashing → registering → queued → uploading → verifying → settled (the server has the last
// word), or ends failed (Retry), duplicate, refused or cancelled.

export const ACTIVE = new Set(["hashing", "registering", "queued", "uploading"]);
// Bytes still to move, or sent but not yet reported to the portal: leaving now would lose the file.
export const isBusy = (record) => ACTIVE.has(record.state) || (record.state === "verifying" && !record.reported);

export class FileRecords {
  constructor() {
    this.records = new Map(); // client id -> record
    this.byAsset = new Map();
    this.byKey = new Map();
    this.bySha = new Map(); // "session sha256" -> the record of this tab registered with that content
    this.sequence = 0;
    // The files this tab is sending together, for the overall line: a new run starts when files are added to an idle tab.
    this.run = null;
    this.runs = 0;
  }

  // An id unique in this tab: `f…` for files, `d…` for drops.
  nextId(prefix) {
    return `${prefix}${Date.now().toString(36)}${(this.sequence++).toString(36)}`;
  }

  create(session, files) {
    return files.map((file) => {
      const record = {
        cid: this.nextId("f"),
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

  // The portal took the file (register or retry): it is an asset, queued for the engine under its object key.
  assign(record, instructions) {
    if (record.key) this.byKey.delete(record.key);
    // The same content added again retried (or resumed) a file this tab knew under another record: that one is done.
    const earlier = this.byAsset.get(instructions.assetId);
    if (earlier && earlier !== record) {
      this.records.delete(earlier.cid);
      if (earlier.key) this.byKey.delete(earlier.key);
    }
    record.assetId = instructions.assetId;
    record.key = instructions.key;
    record.multipart = Boolean(instructions.multipart);
    record.state = "queued";
    record.progress = 0;
    record.reason = "";
    record.reported = false;
    this.byAsset.set(record.assetId, record);
    this.byKey.set(record.key, record);
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
    if (record.key) this.byKey.delete(record.key);
  }

  // Files whose bytes are moving, or sent but not yet reported to the portal: leaving now would lose them.
  active(sessionId) {
    let count = 0;
    for (const record of this.records.values()) {
      if (isBusy(record) && (!sessionId || record.session.id === sessionId)) count += 1;
    }
    return count;
  }

  sendingHere(session, sha256) {
    const twin = this.bySha.get(`${session.id} ${sha256}`);
    return Boolean(twin && (ACTIVE.has(twin.state) || twin.state === "verifying"));
  }
}
