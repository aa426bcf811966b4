// The ROI geometry of a multi-ROI acquisition: each scanfield drawn at its position, size and
// rotation in scan coordinates (degrees, y down as in the image), the field shown highlighted;
// a click on one shows that field. Hidden for a single field.

const SVG = "http://www.w3.org/2000/svg";

/**
 * @param {string} tag @param {Record<string, string | number>} attrs
 * @returns {SVGElement}
 */
function svg(tag, attrs) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  return node;
}

/**
 * The corners of a scanfield, rotated about its centre.
 * @param {import("./types.js").Scanfield} s
 * @returns {[number, number][]}
 */
function corners(s) {
  const [cx, cy] = s.center;
  const [w, h] = s.size;
  const a = (s.rotation * Math.PI) / 180;
  const cos = Math.cos(a), sin = Math.sin(a);
  return /** @type {[number, number][]} */ ([[-w / 2, -h / 2], [w / 2, -h / 2], [w / 2, h / 2], [-w / 2, h / 2]]).map(([x, y]) => [
    cx + x * cos - y * sin,
    cy + x * sin + y * cos,
  ]);
}

export class RoiGeometry {
  /**
   * @param {Object} parts
   * @param {import("./types.js").Model} parts.model
   * @param {import("./dom.js").Dom} parts.dom
   * @param {import("./listen.js").Listeners} parts.listeners
   * @param {(field: number) => void} parts.select  show that field
   */
  constructor({ model, dom, listeners, select }) {
    this.model = model;
    this.dom = dom;
    this.field = -1;
    listeners.onModel("change:scanfields", () => this.sync());
    listeners.onDom(dom.roiSvg, "click", (/** @type {MouseEvent} */ e) => {
      const target = /** @type {Element} */ (e.target).closest?.("[data-field]");
      const field = target ? Number(target.getAttribute("data-field")) : NaN;
      if (Number.isInteger(field) && field >= 0) select(field);
    });
  }

  sync() {
    const { dom } = this;
    const fields = /** @type {import("./types.js").Scanfield[]} */ (this.model.get("scanfields") || []);
    dom.roiSvg.replaceChildren();
    dom.roiGeometry.hidden = fields.length < 2;
    dom.roiGeometry.dataset.count = String(fields.length);
    if (fields.length < 2) return;
    const points = fields.flatMap(corners);
    const xs = points.map((p) => p[0]);
    const ys = points.map((p) => p[1]);
    const [x0, x1, y0, y1] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
    const pad = 0.06 * Math.max(x1 - x0, y1 - y0, 1e-6);
    dom.roiSvg.setAttribute("viewBox", `${x0 - pad} ${y0 - pad} ${x1 - x0 + 2 * pad} ${y1 - y0 + 2 * pad}`);
    const label = 0.05 * Math.max(x1 - x0, y1 - y0, 1e-6);
    fields.forEach((s, i) => {
      const [cx, cy] = s.center;
      const [w, h] = s.size;
      const rect = svg("rect", {
        x: cx - w / 2, y: cy - h / 2, width: w, height: h,
        transform: `rotate(${s.rotation} ${cx} ${cy})`, "vector-effect": "non-scaling-stroke",
        "data-roi": i,
      });
      if (s.field !== null && s.field !== undefined) rect.setAttribute("data-field", String(s.field));
      const title = svg("title", {});
      title.textContent = `${s.name}${s.field !== null ? ` · field ${s.field}` : ""} · centre (${s.center.map((v) => v.toFixed(3)).join(", ")})° · ${s.size.map((v) => v.toFixed(3)).join(" × ")}°`;
      rect.append(title);
      const text = svg("text", { x: cx, y: cy, "font-size": label, "text-anchor": "middle", "dominant-baseline": "central" });
      text.textContent = s.field !== null ? String(s.field) : String(i);
      dom.roiSvg.append(rect, text);
    });
    this.highlight(this.field);
  }

  /** The field shown: its scanfield(s) highlighted. @param {number} field */
  highlight(field) {
    this.field = field;
    for (const rect of this.dom.roiSvg.querySelectorAll("rect")) {
      rect.classList.toggle("six-current", rect.getAttribute("data-field") === String(field));
    }
  }
}
