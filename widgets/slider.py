"""A 0–10 line the browser draws itself: a native ``<input type="range">`` as a widget.

Why not ipywidgets' ``FloatSlider``: its handle is a noUiSlider ``<div role="slider">``
that gets no accessible name (axe: *aria-input-field-name*, WCAG 2.1 4.1.2), so a screen
reader announces an unnamed slider. A native range input takes its name from
``aria-label``, is moved with the arrow keys (one ``step`` per press), Page Up/Down,
Home and End by the browser itself, and needs no library: the view below is a few lines
of JavaScript served inline by ``anywidget`` (its JupyterLab extension is what Voilà
loads; nothing is downloaded when the page opens).

The Python side keeps ``FloatSlider``'s interface where the apps use it: ``value``,
``min``, ``max``, ``step``, ``description`` (here the accessible name, not a visible
label: the forms draw their own), ``disabled``, ``observe(..., "value")``, classes and
layout (anywidget applies classes only when the view is drawn, so the view applies a later
``add_class``/``remove_class`` itself). The value is sent when the user lets go or
presses a key (as ``FloatSlider`` with ``continuous_update=False``), and kept inside
``min``..``max`` as the browser does.
"""

from __future__ import annotations

from typing import Any

import anywidget
import traitlets

__all__ = ["Slider", "WholeSlider"]

_ESM = r"""
function decimals(step) {
  const text = String(step);
  return text.includes(".") ? text.split(".")[1].length : 0;
}

function render({ model, el }) {
  const input = document.createElement("input");
  input.type = "range";
  input.className = "kor-range";
  const fill = () => {
    const low = Number(input.min), high = Number(input.max);
    const share = high > low ? (Number(input.value) - low) / (high - low) : 0;
    input.style.setProperty("--kor-range-fill", (100 * share).toFixed(2) + "%");
  };
  const draw = () => {
    input.min = model.get("min");
    input.max = model.get("max");
    input.step = model.get("step");
    input.value = model.get("value");
    input.disabled = model.get("disabled");
    const name = model.get("description");
    if (name) input.setAttribute("aria-label", name);
    else input.removeAttribute("aria-label");
    let text = Number(model.get("value")).toFixed(decimals(model.get("step")));
    if (model.get("decimal_comma")) text = text.replace(".", ",");
    input.setAttribute("aria-valuetext", text);
    fill();
  };
  const send = () => {
    const value = Number(input.value);
    if (value !== model.get("value")) {
      model.set("value", value);
      model.save_changes();
    }
  };
  // anywidget applies the classes once, at render, by design (manzt/anywidget#618):
  // add_class/remove_class later (the form's «untouched» mark) are applied here
  let shown = new Set(model.get("_dom_classes") || []);
  const classes = () => {
    const want = new Set(model.get("_dom_classes") || []);
    for (const c of shown) if (!want.has(c)) el.classList.remove(c);
    for (const c of want) el.classList.add(c);
    shown = want;
  };
  input.addEventListener("input", fill);
  input.addEventListener("change", send);
  const names = ["value", "min", "max", "step", "disabled", "description", "decimal_comma"];
  for (const n of names) model.on("change:" + n, draw);
  model.on("change:_dom_classes", classes);
  classes();
  draw();
  el.appendChild(input);
  return () => {
    for (const n of names) model.off("change:" + n, draw);
    model.off("change:_dom_classes", classes);
  };
}

export default { render };
"""

_CSS = """
.kor-range-widget {width:100%; min-height:48px; display:flex; align-items:center}
.kor-range-widget input.kor-range {
  -webkit-appearance:none; appearance:none; width:100%; height:48px; margin:0;
  padding:0 2px; box-sizing:border-box; background:transparent; cursor:pointer;
  touch-action:pan-y; --kor-range-fill:0%}
.kor-range-widget input.kor-range:disabled {cursor:not-allowed; opacity:0.6}
.kor-range-widget input.kor-range::-webkit-slider-runnable-track {height:10px;
  border-radius:5px; border:1px solid #595959;
  background:linear-gradient(to right, #0072B2 var(--kor-range-fill), #e6e6e6 0)}
.kor-range-widget input.kor-range::-moz-range-track {height:10px; border-radius:5px;
  border:1px solid #595959; background:#e6e6e6}
.kor-range-widget input.kor-range::-moz-range-progress {height:10px; border-radius:5px;
  background:#0072B2}
.kor-range-widget input.kor-range::-webkit-slider-thumb {-webkit-appearance:none;
  width:40px; height:40px; margin-top:-16px; border-radius:50%; background:#fff;
  border:3px solid #0072B2; box-sizing:border-box}
.kor-range-widget input.kor-range::-moz-range-thumb {width:40px; height:40px;
  border-radius:50%; background:#fff; border:3px solid #0072B2; box-sizing:border-box}
.kor-range-widget input.kor-range:focus-visible {outline:3px solid #0072B2;
  outline-offset:2px}
"""


class Slider(anywidget.AnyWidget):
    """A native range input: ``value`` in ``min``..``max`` in steps of ``step``.

    ``description`` is the accessible name (``aria-label``), e.g. «ORS: Individuelt»;
    ``decimal_comma`` makes the value a screen reader hears «4,5» on a bokmål page.

    >>> s = Slider(min=0.0, max=10.0, step=0.1, value=12.0, description="ORS: Sosialt")
    >>> s.value
    10.0
    """

    _esm = traitlets.Unicode(_ESM).tag(sync=True)
    _css = traitlets.Unicode(_CSS).tag(sync=True)
    value = traitlets.Float(0.0).tag(sync=True)
    min = traitlets.Float(0.0).tag(sync=True)
    max = traitlets.Float(10.0).tag(sync=True)
    step = traitlets.Float(0.1).tag(sync=True)
    description = traitlets.Unicode("").tag(sync=True)
    disabled = traitlets.Bool(False).tag(sync=True)
    decimal_comma = traitlets.Bool(False).tag(sync=True)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.add_class("kor-range-widget")

    @traitlets.validate("value")
    def _within(self, proposal: dict[str, Any]) -> Any:
        """Kept inside min..max, as the browser keeps the range input."""
        return max(self.min, min(self.max, proposal["value"]))

    @traitlets.observe("min", "max")
    def _clamp(self, _change: dict[str, Any]) -> None:
        if self.min <= self.max:
            self.value = max(self.min, min(self.max, self.value))


class WholeSlider(Slider):
    """The same line for whole numbers (a survey's 0–100 question): ``value`` is an int."""

    value = traitlets.Int(0).tag(sync=True)
    min = traitlets.Int(0).tag(sync=True)
    max = traitlets.Int(10).tag(sync=True)
    step = traitlets.Int(1).tag(sync=True)
