// Display options and settings: colormap and contrast (applied locally at once, then told to
// Python), zoom and pan, the ROI outline, channel, chunking, cache, prefetch, fps and follow,
// bidirectional correction and the timeline's aux trigger ticks.
// Python's traits are the truth: a rejected value is replaced by Python's one (syncAll).

export class Options {
  /**
   * @param {Object} parts
   * @param {import("./types.js").Model} parts.model
   * @param {import("./dom.js").Dom} parts.dom
   * @param {import("./listen.js").Listeners} parts.listeners
   * @param {import("./planeview.js").PlaneView} parts.view
   * @param {(msg: import("./types.js").ToPython) => void} parts.send
   */
  constructor({ model, dom, listeners, view, send }) {
    this.model = model;
    this.dom = dom;
    this.view = view;
    /** @param {import("./types.js").SettingKey} key @param {unknown} value */
    const config = (key, value) => send({ type: "config", key, value });
    const { onDom, onModel } = bind(listeners);

    // -- colormap and contrast --
    onDom(dom.colormap, "change", () => {
      view.setDisplay(dom.colormap.value, view.vmin, view.vmax);
      config("colormap", dom.colormap.value);
    });
    for (const [input, key] of /** @type {const} */ ([[dom.vmin, "vmin"], [dom.vmax, "vmax"]])) {
      onDom(input, "change", () => {
        const v = Number(input.value);
        if (!Number.isFinite(v) || input.value === "") return;
        if (key === "vmin") view.setDisplay(view.colormap, v, view.vmax);
        else view.setDisplay(view.colormap, view.vmin, v);
        config(key, v);
      });
    }
    onDom(dom.auto, "click", () => send({ type: "auto_contrast" }));
    for (const key of ["colormap", "vmin", "vmax"]) {
      onModel(`change:${key}`, () => {
        this.syncDisplayInputs();
        this.display();
      });
    }

    // -- zoom, pan and the selection --
    onDom(dom.pan, "click", () => {
      view.panMode = !view.panMode;
      dom.pan.classList.toggle("six-active", view.panMode);
      dom.stage.classList.toggle("six-panning", view.panMode);
    });
    onDom(dom.reset, "click", () => view.resetView());
    onDom(dom.zoomIn, "click", () => view.zoomBy(1.5));
    onDom(dom.zoomOut, "click", () => view.zoomBy(1 / 1.5));
    onDom(dom.clear, "click", () => send({ type: "clear_roi" }));
    onModel("change:roi", () => view.setRoi(model.get("roi")));

    // -- fps and follow --
    onDom(dom.fps, "change", () => config("fps", Number(dom.fps.value)));
    onDom(dom.follow, "change", () => config("follow", dom.follow.checked));
    onModel("change:follow", () => this.syncFollow());
    onModel("change:fps", () => {
      dom.fps.value = String(model.get("fps"));
    });

    // -- channel and chunking experiments --
    onDom(dom.channel, "change", () => config("channel", Number(dom.channel.value)));
    // Chromium fires no change event on Enter in an input with a datalist, so Enter commits
    // explicitly; blur still commits through change. Each distinct value is sent once.
    /** @type {string} */
    this.committedScheme = model.get("chunk_scheme");
    const commitScheme = () => {
      const value = dom.scheme.value.trim();
      if (value === this.committedScheme) return;
      this.committedScheme = value;
      config("chunk_scheme", value);
    };
    onDom(dom.scheme, "change", commitScheme);
    onDom(dom.scheme, "keydown", (/** @type {KeyboardEvent} */ e) => {
      if (e.key === "Enter") commitScheme();
    });
    onDom(dom.backend, "change", () => config("backend", dom.backend.value));
    onDom(dom.cacheMb, "change", () => config("cache_mb", Number(dom.cacheMb.value)));
    onDom(dom.prefetch, "change", () => config("prefetch", Number(dom.prefetch.value)));
    for (const key of ["channels", "channel", "chunk_scheme", "backend", "cache_mb", "prefetch"]) {
      onModel(`change:${key}`, () => this.syncOptions());
    }

    // -- bidirectional correction: applied by Python (it may estimate first; bidi_status) --
    /** The field and z of the plane shown, whose offset the number box shows. */
    this.shown = { field: 0, z: 0 };
    onDom(dom.bidiMode, "change", () => {
      dom.bidiStatus.textContent = dom.bidiMode.value.startsWith("auto") ? "bidi: estimating…" : "";
      config("bidi", dom.bidiMode.value);
    });
    onDom(dom.bidiOffset, "change", () => {
      const v = Number(dom.bidiOffset.value);
      if (!Number.isFinite(v) || dom.bidiOffset.value === "") return;
      config("bidi_manual", v);
      // A typed offset is a manual one, for every field and plane.
      if (dom.bidiMode.value !== "manual") {
        dom.bidiMode.value = "manual";
        config("bidi", "manual");
      }
    });
    onDom(dom.bidiCompare, "change", () => config("bidi_compare", dom.bidiCompare.checked));
    onDom(dom.bidiEstimate, "click", () => {
      dom.bidiStatus.textContent = "bidi: estimating…";
      send({ type: "bidi_estimate" });
    });
    for (const key of ["bidi", "bidi_manual", "bidi_offsets", "bidi_compare", "bidi_status"]) {
      onModel(`change:${key}`, () => this.syncBidi());
    }

    // -- timeline: aux trigger ticks on the trace --
    onDom(dom.auxToggle, "change", () => config("show_aux", dom.auxToggle.checked));
    for (const key of ["aux_count", "show_aux", "timeline_note"]) {
      onModel(`change:${key}`, () => this.syncTimeline());
    }
  }

  /** The plane shown changed: the offset box shows that field and plane's offset. @param {number} field @param {number} z */
  planeShown(field, z) {
    if (field === this.shown.field && z === this.shown.z) return;
    this.shown = { field, z };
    this.syncBidiOffset();
  }

  syncBidi() {
    const { dom, model } = this;
    dom.bidiMode.value = model.get("bidi") || "off";
    dom.bidiCompare.checked = Boolean(model.get("bidi_compare"));
    dom.bidiCompare.disabled = !(model.get("bidi_offsets") || []).length;
    dom.bidiStatus.textContent = model.get("bidi_status") || "";
    this.syncBidiOffset();
  }

  syncBidiOffset() {
    const { dom, model } = this;
    if (document.activeElement === dom.bidiOffset) return; // being typed in
    const offsets = /** @type {number[][]} */ (model.get("bidi_offsets") || []);
    const here = offsets[this.shown.field]?.[this.shown.z];
    const value = typeof here === "number" ? here : Number(model.get("bidi_manual") || 0);
    dom.bidiOffset.value = String(Math.round(value * 1000) / 1000);
    dom.root.dataset.bidiOffset = typeof here === "number" ? String(here) : "";
  }

  syncTimeline() {
    const { dom, model } = this;
    const count = Number(model.get("aux_count") || 0);
    dom.auxLabel.hidden = count === 0;
    dom.auxLabel.title = `${count} aux trigger times as ticks on the trace`;
    dom.auxToggle.checked = Boolean(model.get("show_aux"));
    dom.timelineNote.textContent = model.get("timeline_note") || "";
  }

  display() {
    this.view.setDisplay(this.model.get("colormap"), Number(this.model.get("vmin")), Number(this.model.get("vmax")));
  }

  syncDisplayInputs() {
    const { dom, model } = this;
    dom.colormap.value = model.get("colormap");
    dom.vmin.value = String(model.get("vmin"));
    dom.vmax.value = String(model.get("vmax"));
  }

  syncFollow() {
    this.dom.follow.checked = Boolean(this.model.get("follow"));
  }

  syncOptions() {
    const { dom, model } = this;
    const channels = /** @type {string[]} */ (model.get("channels") || []);
    dom.channel.replaceChildren(
      ...channels.map((c, i) => {
        const o = document.createElement("option");
        o.value = String(i);
        o.textContent = c;
        return o;
      }),
    );
    dom.channel.value = String(model.get("channel"));
    dom.channelLabel.hidden = channels.length < 2;
    dom.scheme.value = this.committedScheme = model.get("chunk_scheme");
    dom.backend.value = model.get("backend");
    dom.cacheMb.value = String(model.get("cache_mb"));
    dom.prefetch.value = String(model.get("prefetch"));
    dom.fps.value = String(model.get("fps"));
  }

  /** Show Python's values in every input: after a rejected setting, not the rejected text. */
  syncAll() {
    this.syncOptions();
    this.syncDisplayInputs();
    this.syncBidi();
    this.syncTimeline();
  }
}

/** @param {import("./listen.js").Listeners} listeners */
function bind(listeners) {
  return {
    /** @param {EventTarget} target @param {string} name @param {(e: any) => void} fn */
    onDom: (target, name, fn) => listeners.onDom(target, name, fn),
    /** @param {string} name @param {(...args: any[]) => void} fn */
    onModel: (name, fn) => listeners.onModel(name, fn),
  };
}
