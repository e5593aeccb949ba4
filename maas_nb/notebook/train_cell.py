"""``%%maas train``: run the cell, find the model it fitted, record the run."""

from __future__ import annotations

import ast
import os
from typing import Any

from IPython.core.error import UsageError

from .. import flavors
from ..commands.cards import history_html, history_of
from ..exceptions import MaasError, NoFittedModelError
from ..tables import metrics_text
from ..tracking import TrainingResult, training_run
from .display import Display, card

FIT_METHODS = {"fit", "fit_transform", "partial_fit", "fit_predict"}


def train_cell(
    shell: Any,
    cell: str,
    name: str,
    *,
    register: bool,
    alias: str | None,
    model_var: str | None,
    eval_exprs: list[str] | None,
    magics: Any,
) -> TrainingResult:
    namespace = shell.user_ns
    code = shell.transform_cell(cell)
    try:
        tree = ast.parse(code)
    except SyntaxError:
        tree = None  # let exec report it, as the user's own error
    before = {k: id(v) for k, v in namespace.items()}
    with training_run(name, source=cell) as run:
        with flavors.fitting(code, interactive=_interactive(shell)):
            exec(compile(code, f"<%%maas train {name}>", "exec"), namespace)  # noqa: S102 - the user's cell
        var = model_var or _find_model(namespace, before, tree)
        if var not in namespace:
            raise UsageError(f"--model {var!r}: no such variable after running the cell.")
        X_train, y_train = _training_data(namespace, tree, var)
        evaluation = None
        if eval_exprs:
            evaluation = (
                magics.evaluate(eval_exprs[0], what="--eval X"),
                magics.evaluate(eval_exprs[1], what="--eval y"),
            )
        cell_metrics = (
            namespace.get("metrics") if isinstance(namespace.get("metrics"), dict) else None
        )
        return run.complete(
            namespace[var],
            X_train=X_train,
            y_train=y_train,
            eval=evaluation,
            metrics=cell_metrics,
            register=register,
            alias=alias,
            model_variable=var,
        )


def result_card(result: TrainingResult, *, verbose: int) -> Display:
    run = result.run
    fields: list[tuple[str, Any]] = [
        ("model", result.model_variable),
        ("status", run.status),
        ("metrics", metrics_text(dict(run.metrics))),
        ("registered", result.version.uri if result.version else "no (add --register)"),
        ("aliases", ", ".join(result.version.aliases) if result.version else ""),
    ]
    if verbose >= 2:
        fields += [("run", run.id), ("duration", f"{run.lineage.get('duration_s', 0):.3f} s")]
    shown = card(f"Training run {run.name}", fields, value=result)
    shown.html += history_html(history_of(run), title=f"run {run.name}")
    return shown


def _fitted_candidates(
    namespace: dict[str, Any], before: dict[str, int], tree: ast.AST | None
) -> list[str]:
    names = [k for k, v in namespace.items() if not k.startswith("_") and before.get(k) != id(v)]
    if tree is not None:
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in FIT_METHODS
                and isinstance(node.func.value, ast.Name)
            ):
                names.append(node.func.value.id)
    found = []
    for n in dict.fromkeys(names):
        if n in namespace and _is_fitted_model(namespace[n]):
            found.append(n)
    return found


def _find_model(namespace: dict[str, Any], before: dict[str, int], tree: ast.AST | None) -> str:
    found = _fitted_candidates(namespace, before, tree)
    if not found:
        raise NoFittedModelError(
            f"The cell fitted no model that maas_nb can store ({flavors.stored()}). Assign "
            "the fitted model to a variable, or name it with --model VAR."
        )
    if len(found) > 1:
        raise UsageError(
            f"The cell fitted several models ({', '.join(found)}); choose one with --model VAR."
        )
    return found[0]


def _is_fitted_model(value: Any) -> bool:
    if isinstance(value, type):
        return False
    try:
        flavor = flavors.for_model(value)
    except MaasError:
        return False
    try:
        flavor.check_fitted(value)
    except Exception:  # not fitted, or not really a model: either way not a candidate
        return False
    return True


def _training_data(namespace: dict[str, Any], tree: ast.AST | None, var: str) -> tuple[Any, Any]:
    """The X and y passed to ``VAR.fit(X, y)`` (or ``x=``/``X=``, ``y=``) when they are
    plain names or subscripts."""
    if tree is None:
        return None, None
    ours: list[ast.Call] = []
    others: list[ast.Call] = []
    for node in ast.walk(tree):
        assigned = isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == var for t in node.targets
        )
        scope = node.value if isinstance(node, ast.Assign) and assigned else node
        for call in _fit_calls(scope, shallow=not assigned):
            receiver = call.func.value  # type: ignore[attr-defined]
            mine = assigned or (isinstance(receiver, ast.Name) and receiver.id == var)
            (ours if mine else others).append(call)
    calls = ours or (others if len(others) == 1 else [])
    if not calls:
        return None, None
    positional: list[ast.expr | None] = [*calls[0].args[:2], None, None]
    named = {k.arg: k.value for k in calls[0].keywords if k.arg}
    X = positional[0] or named.get("X") or named.get("x")
    y = positional[1] or named.get("y")
    return (
        None if X is None else _safe_eval(X, namespace),
        None if y is None else _safe_eval(y, namespace),
    )


def _fit_calls(node: ast.AST, *, shallow: bool) -> list[ast.Call]:
    nodes = [node] if shallow else list(ast.walk(node))
    return [
        n
        for n in nodes
        if isinstance(n, ast.Call)
        and isinstance(n.func, ast.Attribute)
        and n.func.attr in FIT_METHODS
    ]


def _safe_eval(node: ast.expr, namespace: dict[str, Any]) -> Any:
    """Evaluate names, attributes and subscripts only: never call anything twice."""
    if any(isinstance(n, (ast.Call, ast.Lambda, ast.NamedExpr)) for n in ast.walk(node)):
        return None
    try:
        return eval(compile(ast.Expression(node), "<fit argument>", "eval"), namespace)  # noqa: S307
    except Exception:
        return None


def _interactive(shell: Any) -> bool:
    """Progress bars in a notebook kernel; log lines in a terminal or when
    ``MAAS_PROGRESS=lines`` (set it for papermill runs, as ``maas run`` does)."""
    wanted = os.environ.get("MAAS_PROGRESS")
    if wanted in ("bar", "lines"):
        return wanted == "bar"
    return getattr(shell, "kernel", None) is not None
