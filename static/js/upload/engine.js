// The transfer engine: Uppy, headless, with @uppy/aws-s3, fed a few files at a time; its requests are signed by the
// portal (or taken from the single PUTs that register and retry handed out).
import AwsS3 from "@uppy/aws-s3";
import Uppy from "@uppy/core";
import { postJSON } from "./protocol.js";

// Files handed to the transfer engine at a time, per connection it may open; the rest wait in order.
const ENGINE_FILES_PER_CONNECTION = 2;

// The embedded storage signs paths on the portal's own origin; the engine wants whole URLs.
function absolute(signed) {
  return { ...signed, url: new URL(signed.url, window.location.href).href };
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

export class TransferEngine {
  // `files` finds the record of a transfer by its object key; `on` hears of its progress, success and failure.
  constructor(files, on) {
    this.files = files;
    this.on = on;
    this.uppy = null;
    this.partSize = 16 * 1024 * 1024;
    this.putCache = new Map(); // object key -> signed single PUT handed out by register/retry
    this.waiting = []; // records with transfer instructions, not yet handed to the engine
    this.registering = new Set(); // drops still being hashed: each one's "register what you have" callback
    this.inEngine = 0;
    this.concurrency = 1;
  }

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
      const record = this.files.byKey.get(file?.meta.key);
      if (!record) return;
      this.on.progress(record, progress.bytesTotal ? progress.bytesUploaded / progress.bytesTotal : 0);
    });
    this.uppy.on("upload-success", (file) => {
      const record = this.files.byKey.get(file?.meta.key);
      if (!record) return; // cancelled meanwhile: drop() took it out of the engine
      this.leaveEngine(file);
      this.on.sent(record);
    });
    this.uppy.on("upload-error", (file, error) => {
      const record = this.files.byKey.get(file?.meta.key);
      if (!record) return;
      this.leaveEngine(file);
      this.on.failed(record, describeError(error));
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
    const record = this.files.byKey.get(request.key);
    if (!record) throw new Error("This file is no longer part of an upload.");
    const signed = await postJSON(record.session.signUrl, {
      method: request.method,
      key: request.key,
      uploadId: request.uploadId,
      partNumber: request.partNumber,
    });
    return absolute(signed);
  }

  // What register or retry said about a record's transfer: the part size of multipart files, a signed single PUT.
  expect(record, instructions) {
    if (record.multipart) this.partSize = instructions.multipart.partSize;
    if (instructions.put) this.putCache.set(record.key, instructions.put);
  }

  // Fewer files wait for a connection than the engine could start: drops being hashed should register what they have.
  runningLow() {
    return this.waiting.length + this.inEngine < ENGINE_FILES_PER_CONNECTION * this.concurrency;
  }

  // Nothing waits, moves or is still to be registered: the last file of a run is through.
  idle() {
    return this.inEngine === 0 && !this.waiting.length && !this.registering.size;
  }

  // Files wait in this queue and join the engine a few at a time: Uppy copies its whole file list on every state
  // change, so 1,500 files handed over at once made each progress event cost 1,500 copies.
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
      if (this.runningLow()) this.askDrops();
    }, 0);
  }

  // Drops still being hashed register what they have (or finish, once everything is hashed).
  askDrops() {
    this.registering.forEach((send) => send());
  }

  // A cancelled file leaves the queue, or the engine mid-transfer.
  drop(record) {
    const waiting = this.waiting.indexOf(record);
    if (waiting >= 0) this.waiting.splice(waiting, 1);
    const inEngine = this.uppy?.getFiles().find((file) => file.meta.key === record.key);
    if (inEngine) {
      this.files.byKey.delete(record.key); // the engine's events about it are ignored from now on
      this.uppy.removeFile(inEngine.id);
      this.inEngine = Math.max(0, this.inEngine - 1);
    }
  }
}
