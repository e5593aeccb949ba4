"""The Predict tab: a form built from the deployed version's signature, or pasted JSON."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets

from ... import deploying as client
from ...exceptions import PanelInputError
from ...flavors.signature import DATAFRAME, TEXT, Signature
from ..display import Display, table
from .dropdowns import on_pick, set_options

if TYPE_CHECKING:
    from .panel import Panel

FORM, JSON = "Form", "JSON"
JSON_HINT = (
    "Paste a list of rows such as [[5.1, 3.5, 1.4, 0.2]], a list of strings for a text "
    "model, or a whole body with 'instances', 'inputs' or 'dataframe_split'."
)


class PredictTab:
    title = "Predict"

    def __init__(self, panel: Panel) -> None:
        self.panel = panel
        self.signature: Signature | None = None
        self._form_key: tuple[Any, ...] | None = None
        self.fields: list[widgets.Text] = []
        self.deployment = widgets.Dropdown(description="Deployment", options=[])
        self.mode = widgets.ToggleButtons(options=[FORM, JSON], value=FORM)
        self.form = widgets.VBox()
        self.text = widgets.Textarea(
            placeholder="one text per line", layout=widgets.Layout(width="40em", height="6em")
        )
        self.json = widgets.Textarea(
            placeholder=JSON_HINT, layout=widgets.Layout(width="40em", height="6em")
        )
        self.predict = widgets.Button(description="Predict", button_style="success", icon="bolt")
        self.answer = widgets.HTML()
        self.answer.add_class("maas-answer")

        log = panel.log
        on_pick(self.deployment, log.guard("Build form")(self._build_form))
        self.mode.observe(log.guard("Switch input")(self._show_mode), names="value")
        self.predict.on_click(log.guard("Predict")(self._predict))
        self.inputs = widgets.VBox([self.form])
        self.widget = widgets.VBox(
            [self.deployment, self.mode, self.inputs, self.predict, self.answer]
        )

    def refresh(self) -> None:
        """Offer the current deployments; keep the form (and what was typed) if it stands."""
        names = [r.name for r in self.panel.registry.list_deployments()]
        set_options(self.deployment, names, names[0] if names else None)
        self._build_form()

    def _build_form(self, _change: object = None) -> None:
        """Build the form for the picked deployment, unless it already stands (keep input)."""
        name = self.deployment.value
        target = self.panel.registry.get_deployment(name).target if name else None
        signature = self.panel.registry.get(target).signature if target else None
        key = (name, target, signature)
        if key == self._form_key:
            return
        self._form_key = key
        for old in self.form.children:
            if old is not self.text:
                old.close()
        self.signature, self.fields = signature, []
        sig = self.signature
        if sig is None:
            note = "No signature is recorded for this model: paste JSON instead."
            self.form.children = [widgets.HTML(f"<i>{note}</i>")] if name else []
        elif sig.kind == TEXT:
            self.form.children = [widgets.HTML("Texts, one per line:"), self.text]
        else:
            names = (
                list(sig.columns)
                if sig.kind == DATAFRAME
                else [f"feature {i}" for i in range(sig.n_features)]
            )
            # One label width for all, so the fields line up.
            width = {"description_width": f"{min(24, max(map(len, names))) * 0.6 + 1:.1f}em"}
            self.fields = [
                widgets.Text(description=label, placeholder="number", style=width)
                for label in names
            ]
            for spec, field in zip(sig.inputs, self.fields, strict=False):
                if sig.kind == DATAFRAME and not _numeric(spec.dtype):
                    field.placeholder = "text"
            self.form.children = self.fields
        self._show_mode()

    def _show_mode(self, _change: object = None) -> None:
        self.inputs.children = [self.form] if self.mode.value == FORM else [self.json]

    def body(self) -> tuple[dict[str, Any], list[list[Any]] | None]:
        """The ``/invocations`` body for what was typed, and the rows to show beside answers."""
        if self.mode.value == JSON:
            return _parse_json(self.json.value), None
        sig = self.signature
        if sig is None:
            raise PanelInputError(
                "This model has no signature, so there is no form: switch to JSON."
            )
        if sig.kind == TEXT:
            texts = [line for line in self.text.value.splitlines() if line.strip()]
            if not texts:
                raise PanelInputError("Type at least one text (one per line), then Predict.")
            return {"instances": texts}, [[t] for t in texts]
        row = [
            _value(f.description, f.value, spec.dtype if sig.kind == DATAFRAME else "float64")
            for f, spec in zip(self.fields, _specs(sig), strict=True)
        ]
        if sig.kind == DATAFRAME:
            return {"dataframe_split": {"columns": list(sig.columns), "data": [row]}}, [row]
        return {"instances": [row]}, [row]

    def _predict(self, _button: object) -> None:
        name = self.deployment.value
        if not name:
            raise PanelInputError("Nothing is deployed: deploy a model in the Deploy tab first.")
        body, rows = self.body()
        dep = client.get_deployment(name, home=self.panel.home)
        answer = dep.invoke(body)
        self.answer.value = answer_table(answer, rows, self._input_names()).html
        self.panel.log.info(f"{name} answered {len(answer)} prediction(s)")

    def _input_names(self) -> list[str]:
        sig = self.signature
        if sig is None:
            return []
        if sig.kind == TEXT:
            return ["text"]
        return [f.description for f in self.fields]


def answer_table(answer: Any, rows: list[list[Any]] | None, names: list[str]) -> Display:
    """Inputs (when the form made them) and outputs, one row per prediction."""
    outputs = [list(a) if isinstance(a, (list, tuple)) else [a] for a in answer.tolist()]
    width = max((len(o) for o in outputs), default=1)
    out_names = ["prediction"] if width == 1 else [f"output {i}" for i in range(width)]
    headers = ["row", *(names if rows else []), *out_names]
    body = [[i, *(rows[i] if rows else []), *outputs[i]] for i in range(len(outputs))]
    return table(headers, body, empty="The model returned no predictions.")


def _specs(sig: Signature) -> list[Any]:
    if sig.kind == DATAFRAME:
        return list(sig.inputs)
    return [sig.inputs[0]] * sig.n_features


def _numeric(dtype: str) -> bool:
    return dtype.startswith(("float", "int", "uint", "bool"))


def _value(label: str, text: str, dtype: str) -> Any:
    text = text.strip()
    if not _numeric(dtype):
        return text
    if not text:
        raise PanelInputError(f"{label} is empty: type a number, or switch to JSON.")
    try:
        number = float(text)
    except ValueError:
        raise PanelInputError(
            f"{label} must be a number, but got {text!r}: type a number such as 5.1."
        ) from None
    return int(number) if dtype.startswith(("int", "uint")) and number.is_integer() else number


def _parse_json(text: str) -> dict[str, Any]:
    if not text.strip():
        raise PanelInputError(f"The JSON box is empty. {JSON_HINT}")
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise PanelInputError(
            f"The JSON is malformed ({exc.msg} at line {exc.lineno}, column {exc.colno}). "
            f"{JSON_HINT}"
        ) from None
    if isinstance(value, list):
        return {"instances": value}
    if isinstance(value, dict):
        return value
    raise PanelInputError(
        f"Expected a JSON list or object, but got {type(value).__name__}. {JSON_HINT}"
    )
