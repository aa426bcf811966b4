// The widget's CSS, injected into its own root so every host (Lab, Notebook, Voila, marimo,
// a plain page) gets it without a separate stylesheet request.

export const CSS = `
.six-root { font: 12px/1.4 system-ui, sans-serif; color: #222; display: inline-flex;
  flex-direction: column; gap: 6px; padding: 6px; outline: none; max-width: 100%; }
.six-root [hidden] { display: none !important; }
.six-root:focus-visible { box-shadow: 0 0 0 2px #7aa7e0; }
.six-row { display: flex; flex-wrap: wrap; align-items: center; gap: 6px; }
.six-row label { display: inline-flex; align-items: center; gap: 4px; }
.six-slider { display: grid; grid-template-columns: 3.2em 1fr 4.5em; align-items: center; gap: 6px; }
.six-slider input[type=range] { width: 100%; min-width: 160px; }
.six-num { width: 4.5em; }
.six-stage { position: relative; background: #111; overflow: hidden; cursor: crosshair;
  touch-action: none; user-select: none; }
.six-stage canvas { position: absolute; left: 0; top: 0; }
.six-plane { image-rendering: pixelated; }
.six-overlay { pointer-events: none; }
.six-stage.six-panning { cursor: grab; }
.six-status { font-weight: 600; }
.six-error { background: #fde2e1; color: #8a1f11; border: 1px solid #e8a39b; padding: 3px 6px;
  border-radius: 3px; cursor: pointer; }
.six-error[hidden] { display: none; }
.six-panel { border: 1px solid #ddd; border-radius: 4px; padding: 4px 6px; background: #fafafa; }
.six-panel h4 { margin: 0 0 2px 0; font-size: 11px; text-transform: uppercase; color: #666; }
.six-mono { font-family: ui-monospace, monospace; font-size: 11px; white-space: pre-wrap; }
.six-legend span { display: inline-block; width: 10px; height: 10px; margin: 0 3px 0 8px;
  vertical-align: middle; border: 1px solid #999; }
.six-trace-img { max-width: 520px; cursor: pointer; }
button.six-active { background: #dbe8fb; }
`;
