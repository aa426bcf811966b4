// The widget's CSS, injected into its own root so every host (Lab, Notebook, Voila, marimo,
// a plain page) gets it without a separate stylesheet request. Buttons and inputs are styled
// explicitly because some hosts (marimo) reset them to bare text.

export const CSS = `
.six-root { font: 12px/1.4 system-ui, sans-serif; color: #222; display: inline-flex;
  flex-flow: row wrap; align-items: flex-start; gap: 12px; padding: 6px; outline: none;
  max-width: 100%; box-sizing: border-box; }
.six-root *, .six-root *::before, .six-root *::after { box-sizing: border-box; }
.six-root [hidden] { display: none !important; }
.six-root:focus-visible { box-shadow: 0 0 0 2px #7aa7e0; }
.six-main { display: flex; flex-direction: column; gap: 6px; width: 460px; max-width: 100%; }
.six-side { display: flex; flex-direction: column; gap: 4px; }
.six-row { display: flex; flex-wrap: wrap; align-items: center; gap: 6px; }
.six-row label { display: inline-flex; align-items: center; gap: 4px; }
.six-root button, .six-root input, .six-root select { font: inherit; color: #222; margin: 0;
  border: 1px solid #aaa; border-radius: 3px; background: #fff; padding: 1px 4px; height: 22px;
  min-width: 0; }
.six-root button { background: #f3f3f3; padding: 1px 8px; cursor: pointer; }
.six-root button:hover { background: #e6e6e6; }
.six-root input[type=range] { border: none; padding: 0; background: transparent; height: 16px; }
.six-root button.six-active { background: #dbe8fb; border-color: #7aa7e0; }
.six-slider { display: grid; grid-template-columns: 3em minmax(0, 1fr) 5em; align-items: center;
  gap: 6px; }
.six-slider input[type=range] { width: 100%; }
.six-num { width: 5em; }
.six-root input[data-role=vmin], .six-root input[data-role=vmax] { width: 6.5em; }
.six-slider .six-num { width: 100%; }
.six-stage { position: relative; background: #111; overflow: hidden; cursor: crosshair;
  touch-action: none; user-select: none; }
.six-stage canvas { position: absolute; left: 0; top: 0; }
.six-plane { image-rendering: pixelated; }
.six-overlay { pointer-events: none; }
.six-stage.six-panning { cursor: grab; }
.six-status { font-weight: 600; }
.six-cursor { min-height: 16px; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
.six-dim { color: #666; }
.six-error { background: #fde2e1; color: #8a1f11; border: 1px solid #e8a39b; padding: 3px 6px;
  border-radius: 3px; cursor: pointer; }
.six-panel { border: 1px solid #ddd; border-radius: 4px; padding: 4px 6px; background: #fafafa; }
.six-panel h4 { margin: 0 0 2px 0; font-size: 11px; text-transform: uppercase; color: #666; }
.six-panel canvas { display: block; max-width: 100%; }
.six-mono { font-family: ui-monospace, monospace; font-size: 11px; white-space: pre-wrap; }
.six-hint { background: #fff4ce; color: #5c4400; border: 1px solid #e6cf7a; border-radius: 3px;
  padding: 3px 6px; margin: 3px 0; font-size: 11px; }
.six-legend span { display: inline-block; width: 10px; height: 10px; margin: 0 3px 0 8px;
  vertical-align: middle; border: 1px solid #999; }
.six-legend span.six-gap-key { display: inline; width: auto; height: auto; margin: 0; border: none; }
.six-legend span.six-gap-key span { margin-left: 8px; }
.six-trace { position: relative; display: inline-block; line-height: 0; }
.six-trace-img { display: block; width: 442px; max-width: 100%; cursor: pointer; }
.six-trace-marker { position: absolute; width: 0; border-left: 1.5px solid #d62728;
  pointer-events: none; }
.six-stage[data-pending="1"] .six-plane { opacity: 0.35; }
.six-histogram canvas { width: 100%; height: 56px; cursor: pointer; touch-action: none; }
.six-roi-svg { display: block; width: 100%; height: 130px; }
.six-roi-svg rect { fill: rgba(122, 167, 224, 0.12); stroke: #6a8fc0; stroke-width: 1.5px;
  cursor: pointer; }
.six-roi-svg rect:hover { fill: rgba(122, 167, 224, 0.3); }
.six-roi-svg rect.six-current { fill: rgba(31, 95, 191, 0.45); stroke: #1f5fbf; stroke-width: 2.5px; }
.six-roi-svg text { fill: #333; pointer-events: none; font-family: system-ui, sans-serif; }
.six-metadata summary { cursor: pointer; font-size: 11px; text-transform: uppercase; color: #666; }
.six-metadata input[type=search] { flex: 1 1 auto; }
.six-meta-scroll { max-height: 320px; overflow: auto; margin-top: 4px; }
.six-meta-section h5 { margin: 6px 0 2px 0; font-size: 11px; color: #666; }
.six-meta-row { display: grid; grid-template-columns: minmax(0, 1fr) minmax(0, 1fr); gap: 6px;
  font-family: ui-monospace, monospace; font-size: 11px; border-top: 1px solid #eee; }
.six-meta-key { overflow-wrap: anywhere; }
.six-meta-value { overflow-wrap: anywhere; color: #333; }
`;
