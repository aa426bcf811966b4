// The chunk map: the current field's chunk grid (time across, z down) coloured by state.

/**
 * Chunk states in the order of their codes in the grid Python sends (chunkmap.CHUNK_STATES).
 * @type {readonly ["never", "read", "cached", "reading"]}
 */
export const CHUNK_STATES = ["never", "read", "cached", "reading"];
/** @typedef {typeof CHUNK_STATES[number]} ChunkState */
const [READ, CACHED, READING] = [CHUNK_STATES.indexOf("read"), CHUNK_STATES.indexOf("cached"), CHUNK_STATES.indexOf("reading")];

/** @type {Record<ChunkState, { color: string, name: string }>} */
const LOOK = {
  never: { color: "#eeeeee", name: "not read" },
  read: { color: "#9ecae1", name: "read, evicted" },
  cached: { color: "#3182bd", name: "cached" },
  reading: { color: "#e6550d", name: "being read" },
};
const COLORS = CHUNK_STATES.map((s) => LOOK[s].color);
/** Outline of the time blocks holding a time point right after dropped frames. */
const GAP_COLOR = "#d62728";

export class ChunkMap {
  /**
   * @param {HTMLElement} root
   * @param {HTMLCanvasElement} canvas
   * @param {HTMLElement} legend
   * @param {HTMLElement} text
   */
  constructor(root, canvas, legend, text) {
    this.root = root;
    this.canvas = canvas;
    this.text = text;
    /** @type {Uint8Array} */
    this.grid = new Uint8Array(0);
    this.rows = 0;
    this.cols = 0;
    this.bin = 1;
    /** Columns whose time blocks follow dropped frames. @type {number[]} */
    this.gaps = [];
    /** @type {[number, number] | null} */
    this.current = null;
    legend.replaceChildren();
    for (const state of CHUNK_STATES) {
      const sw = document.createElement("span");
      sw.style.background = LOOK[state].color;
      legend.append(sw, LOOK[state].name);
    }
    const gap = document.createElement("span");
    gap.style.background = "transparent";
    gap.style.outline = `2px dashed ${GAP_COLOR}`;
    gap.style.outlineOffset = "-2px";
    /** The legend's entry for gaps, shown when there are any. */
    this.gapKey = document.createElement("span");
    this.gapKey.dataset.role = "chunk-gap-key";
    this.gapKey.className = "six-gap-key";
    this.gapKey.append(gap, "after dropped frames");
    this.gapKey.hidden = true;
    legend.append(this.gapKey);
  }

  /**
   * Replace the grid (rows = z blocks, cols = time blocks binned by `bin`).
   * `gaps`: columns whose time blocks hold a time point right after dropped frames.
   * @param {DataView} buffer @param {number} rows @param {number} cols @param {number} bin @param {number[]} [gaps]
   */
  setGrid(buffer, rows, cols, bin, gaps = []) {
    this.gaps = gaps.filter((c) => c >= 0 && c < cols);
    this.gapKey.hidden = this.gaps.length === 0;
    this.grid = new Uint8Array(buffer.buffer.slice(buffer.byteOffset, buffer.byteOffset + rows * cols));
    this.rows = rows;
    this.cols = cols;
    this.bin = bin;
  }

  /** Mark a block as being read (sent by Python just before the read). @param {number} tb @param {number} zb */
  markReading(tb, zb) {
    const col = Math.floor(tb / this.bin);
    if (zb < this.rows && col < this.cols) this.grid[zb * this.cols + col] = READING;
    this.draw();
  }

  /** @param {number} tb @param {number} zb */
  setCurrent(tb, zb) {
    this.current = [tb, zb];
    this.draw();
  }

  draw() {
    const c = this.canvas;
    const ctx = /** @type {CanvasRenderingContext2D} */ (c.getContext("2d"));
    ctx.clearRect(0, 0, c.width, c.height);
    if (!this.rows || !this.cols) return;
    const cw = c.width / this.cols;
    const ch = c.height / this.rows;
    const counts = CHUNK_STATES.map(() => 0);
    for (let r = 0; r < this.rows; r++) {
      for (let k = 0; k < this.cols; k++) {
        const s = this.grid[r * this.cols + k];
        counts[s]++;
        ctx.fillStyle = COLORS[s];
        ctx.fillRect(k * cw, r * ch, Math.max(cw - (cw > 3 ? 1 : 0), 1), Math.max(ch - (ch > 3 ? 1 : 0), 1));
      }
    }
    if (this.gaps.length) {
      ctx.strokeStyle = GAP_COLOR;
      ctx.lineWidth = 2;
      ctx.setLineDash([3, 2]);
      for (const k of this.gaps) ctx.strokeRect(k * cw + 1, 1, Math.max(cw - 2, 1), c.height - 2);
      ctx.setLineDash([]);
    }
    if (this.current) {
      const [tb, zb] = this.current;
      ctx.strokeStyle = "#000";
      ctx.lineWidth = 1.5;
      ctx.strokeRect(Math.floor(tb / this.bin) * cw, zb * ch, Math.max(cw, 2), Math.max(ch, 2));
    }
    const binText = this.bin > 1 ? ` (${this.bin} time blocks per column)` : "";
    this.text.textContent =
      `${this.cols} × ${this.rows} chunks${binText} · ` +
      `cached ${counts[CACHED]} · read ${counts[READ]} · reading ${counts[READING]}` +
      (this.gaps.length ? ` · ${this.gaps.length} after dropped frames` : "");
    this.root.dataset.gaps = this.gaps.join(",");
    this.root.dataset.cached = String(counts[CACHED]);
    this.root.dataset.reading = String(counts[READING]);
  }
}
