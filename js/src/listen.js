// Model and DOM listeners registered through one object, so a view removes every one of them
// when the host removes it (a notebook re-renders a widget many times in one page).

export class Listeners {
  /** @param {import("./types.js").Model} model */
  constructor(model) {
    this.model = model;
    /** @type {[string, (...args: any[]) => void][]} */
    this.modelHandlers = [];
    /** @type {[EventTarget, string, EventListener, boolean][]} */
    this.domHandlers = [];
  }

  /** @param {string} name @param {(...args: any[]) => void} fn */
  onModel(name, fn) {
    this.model.on(name, fn);
    this.modelHandlers.push([name, fn]);
  }

  /** @param {EventTarget} target @param {string} name @param {(e: any) => void} fn */
  onDom(target, name, fn, capture = false) {
    target.addEventListener(name, fn, capture);
    this.domHandlers.push([target, name, fn, capture]);
  }

  removeAll() {
    for (const [name, fn] of this.modelHandlers) this.model.off(name, fn);
    for (const [target, name, fn, capture] of this.domHandlers) target.removeEventListener(name, fn, capture);
    this.modelHandlers = [];
    this.domHandlers = [];
  }
}
