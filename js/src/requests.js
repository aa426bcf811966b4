// Bookkeeping of plane requests and their answers: ids, when each was sent, whether one is still
// in flight, and the browser's request->drawn time that goes back to Python as an ack.
//
// Python answers each request with a plane, or answers a newer one instead (latest wins), or
// sends a plane it was asked for from Python itself, naming in `seen` the newest browser request
// it had received: every request up to that one is settled too.

/** A request with no answer after this long no longer counts as in flight. */
export const STALE_REQUEST_MS = 3000;
/** The ack rides on the next request; with none within this long it is sent alone. */
export const ACK_DELAY_MS = 250;
/** Sent-at times kept for at most this many unanswered requests. */
const MAX_TRACKED = 500;

export class RequestTracker {
  /** @param {(ack: import("./types.js").Ack) => void} sendDrawn  sends an ack on its own */
  constructor(sendDrawn) {
    this.sendDrawn = sendDrawn;
    this.nextId = 1;
    this.lastSentId = 0;
    this.lastSentAt = 0;
    this.lastAnsweredId = 0;
    /** @type {Map<number, number>} */
    this.sentAt = new Map();
    /** @type {import("./types.js").Ack | null} */
    this.pendingAck = null;
    /** @type {ReturnType<typeof setTimeout> | null} */
    this.ackTimer = null;
  }

  /**
   * Number a new request and take the ack waiting to ride on it.
   * @returns {{ id: number, ack: import("./types.js").Ack | null }}
   */
  next() {
    const id = this.nextId++;
    const now = performance.now();
    this.sentAt.set(id, now);
    if (this.sentAt.size > MAX_TRACKED) this.sentAt.delete(/** @type {number} */ (this.sentAt.keys().next().value));
    this.lastSentId = id;
    this.lastSentAt = now;
    const ack = this.pendingAck;
    this.pendingAck = null;
    return { id, ack };
  }

  /** Whether a request of ours is still waiting for its plane (and not given up on). */
  inFlight() {
    return this.lastSentId > this.lastAnsweredId && performance.now() - this.lastSentAt < STALE_REQUEST_MS;
  }

  /**
   * Whether a plane asked for in Python came after our last request: then it, not the sliders,
   * says where the view is.
   * @param {number} id @param {number} seen
   */
  overtakes(id, seen) {
    return id < 0 && seen >= this.lastSentId;
  }

  /**
   * A plane arrived: settle every request up to `seen` (and `id`, if ours).
   * @param {number} id @param {number} seen @param {number} now  when it arrived
   * @returns {number | null} the round trip of our own request, in ms
   */
  answered(id, seen, now) {
    this.lastAnsweredId = Math.max(this.lastAnsweredId, seen);
    if (id <= 0) return null;
    this.lastAnsweredId = Math.max(this.lastAnsweredId, id);
    const sent = this.sentAt.get(id);
    if (sent === undefined) return null;
    const total = now - sent;
    this.sentAt.delete(id);
    this.pendingAck = { id, total_ms: total };
    if (this.ackTimer) clearTimeout(this.ackTimer);
    this.ackTimer = setTimeout(() => this.flushAck(), ACK_DELAY_MS);
    return total;
  }

  /** Python reported an error: the request in flight will not be answered with a plane. */
  failed() {
    this.lastAnsweredId = this.lastSentId;
  }

  flushAck() {
    this.ackTimer = null;
    if (this.pendingAck) this.sendDrawn(this.pendingAck);
    this.pendingAck = null;
  }

  destroy() {
    if (this.ackTimer) clearTimeout(this.ackTimer);
    this.ackTimer = null;
  }
}
