// The chunk map: the current field's chunk grid (time across, z down) coloured by state.

const COLORS = ["#eeeeee", "#9ecae1", "#3182bd", "#e6550d"]; // never, read, cached, reading
const NAMES = ["not read", "read, evicted", "cached", "being read"];

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
    /** @type {[number, number] | null} */
    this.current = null;
    legend.replaceChildren();
    COLORS.forEach((c, i) => {
      const sw = document.createElement("span");
      sw.style.background = c;
      legend.append(sw, NAMES[i]);
    });
  }

  /**
   * Replace the grid (rows = z blocks, cols = time blocks binned by `bin`).
   * @param {DataView} buffer @param {number} rows @param {number} cols @param {number} bin
   */
  setGrid(buffer, rows, cols, bin) {
    this.grid = new Uint8Array(buffer.buffer.slice(buffer.byteOffset, buffer.byteOffset + rows * cols));
    this.rows = rows;
    this.cols = cols;
    this.bin = bin;
  }

  /** Mark a block as being read (sent by Python just before the read). @param {number} tb @param {number} zb */
  markReading(tb, zb) {
    const col = Math.floor(tb / this.bin);
    if (zb < this.rows && col < this.cols) this.grid[zb * this.cols + col] = 3;
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
    const counts = [0, 0, 0, 0];
    for (let r = 0; r < this.rows; r++) {
      for (let k = 0; k < this.cols; k++) {
        const s = this.grid[r * this.cols + k];
        counts[s]++;
        ctx.fillStyle = COLORS[s];
        ctx.fillRect(k * cw, r * ch, Math.max(cw - (cw > 3 ? 1 : 0), 1), Math.max(ch - (ch > 3 ? 1 : 0), 1));
      }
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
      `cached ${counts[2]} · read ${counts[1]} · reading ${counts[3]}`;
    this.root.dataset.cached = String(counts[2]);
    this.root.dataset.reading = String(counts[3]);
  }
}
