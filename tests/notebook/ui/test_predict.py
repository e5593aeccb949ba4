"""The Predict tab: a form from the signature (numbers, columns or text), or pasted JSON."""

import html

import pandas as pd
import pytest

import maas_nb
from tests.notebook.ui.conftest import fill, rows_of


@pytest.fixture
def deployed(versions, make_panel):
    panel = make_panel()
    panel.deploy.deploy.click()
    panel.deploy.wait(timeout=90)
    assert ">ready</span>" in panel.deploy.status.value
    return panel


def test_the_form_has_a_numeric_field_per_feature_and_predict_shows_a_table(
    deployed, classifier, capsys
):
    panel = deployed
    assert [f.description for f in panel.predict.fields] == [
        "feature 0",
        "feature 1",
        "feature 2",
        "feature 3",
    ]
    fill(panel, [6.7, 3.0, 5.2, 2.3])
    panel.predict.predict.click()
    expected = classifier.predict(rows_of([6.7, 3.0, 5.2, 2.3]))[0]
    assert panel.predict.answer.value == (
        "<table><thead><tr><th>row</th><th>feature 0</th><th>feature 1</th><th>feature 2</th>"
        "<th>feature 3</th><th>prediction</th></tr></thead><tbody><tr><td>0</td><td>6.7</td>"
        f"<td>3.0</td><td>5.2</td><td>2.3</td><td>{expected}</td></tr></tbody></table>"
    )
    assert panel.log.last == "iris answered 1 prediction(s)"
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize(
    ("values", "error"),
    [
        (
            ["abc", 3.0, 5.2, 2.3],
            "Predict failed: feature 0 must be a number, but got 'abc': type a number such as 5.1.",
        ),
        (
            [6.7, "", 5.2, 2.3],
            "Predict failed: feature 1 is empty: type a number, or switch to JSON.",
        ),
    ],
)
def test_a_malformed_form_is_reported_in_the_panel(deployed, values, error, capsys):
    panel = deployed
    fill(panel, [5.1, 3.5, 1.4, 0.2])
    panel.predict.predict.click()
    good = panel.predict.answer.value
    fill(panel, values)
    panel.predict.predict.click()
    assert panel.log.errors == [error]
    assert html.escape(error) in panel.log.widget.value
    assert panel.predict.answer.value == good  # the last good answer stays
    assert capsys.readouterr().out == ""


def test_pasted_json_rows_or_bodies(deployed, classifier, iris):
    X, _ = iris
    panel = deployed
    panel.predict.mode.value = "JSON"
    assert panel.predict.inputs.children == (panel.predict.json,)
    panel.predict.json.value = str(X[:3].tolist())
    panel.predict.predict.click()
    for i, label in enumerate(classifier.predict(X[:3])):
        assert f"<tr><td>{i}</td><td>{label}</td></tr>" in panel.predict.answer.value
    panel.predict.json.value = '{"dataframe_split": {"data": [[5.1, 3.5, 1.4, 0.2]]}}'
    panel.predict.predict.click()
    assert "<tr><td>0</td><td>0</td></tr>" in panel.predict.answer.value
    assert panel.log.errors == []


@pytest.mark.parametrize(
    ("text", "error"),
    [
        (
            "[[5.1, 3.5,",
            "Predict failed: The JSON is malformed (Expecting value at line 1, column 12). "
            "Paste a list of rows such as [[5.1, 3.5, 1.4, 0.2]],",
        ),
        ("", "Predict failed: The JSON box is empty."),
        ("42", "Predict failed: Expected a JSON list or object, but got int."),
        (
            "[[1, 2]]",
            "Predict failed: Deployment 'iris' answered 400: instances: X has 2 features, but model 'iris:2' expects 4",
        ),
    ],
)
def test_malformed_json_is_reported_and_the_server_keeps_serving(
    deployed, text, error, classifier, iris
):
    X, _ = iris
    panel = deployed
    panel.predict.mode.value = "JSON"
    panel.predict.json.value = text
    panel.predict.predict.click()
    assert len(panel.log.errors) == 1
    assert panel.log.errors[0].startswith(error)
    dep = maas_nb.deployments()[0]
    assert dep.predict(X[:2]).tolist() == classifier.predict(X[:2]).tolist()


def test_a_text_model_gets_a_text_box(text_pipeline, make_panel):
    maas_nb.register(text_pipeline, "reviews", sample=["a fine film"])
    panel = make_panel()
    panel.deploy.deploy.click()
    panel.deploy.wait(timeout=90)
    assert panel.predict.form.children[1] is panel.predict.text
    assert panel.predict.fields == []
    panel.predict.text.value = "a wonderful film\n\nterrible and boring\n"
    panel.predict.predict.click()
    shown = panel.predict.answer.value
    assert "<th>row</th><th>text</th><th>prediction</th>" in shown
    assert "<tr><td>0</td><td>a wonderful film</td><td>pos</td></tr>" in shown
    assert "<tr><td>1</td><td>terrible and boring</td><td>neg</td></tr>" in shown
    panel.predict.text.value = "  \n"
    panel.predict.predict.click()
    assert panel.log.errors == [
        "Predict failed: Type at least one text (one per line), then Predict."
    ]


def test_a_dataframe_model_gets_a_field_per_column(make_panel, strict_frame_model):
    model, frame = strict_frame_model
    maas_nb.register(model, "frames", sample=frame[:5])
    panel = make_panel()
    panel.deploy.deploy.click()
    panel.deploy.wait(timeout=90)
    assert [(f.description, f.placeholder) for f in panel.predict.fields] == [
        ("petal_length", "number"),
        ("colour", "text"),
    ]
    panel.predict.fields[0].value = "1.4"
    panel.predict.fields[1].value = "red"
    panel.predict.predict.click()
    expected = model.predict(pd.DataFrame({"petal_length": [1.4], "colour": ["red"]}))[0]
    assert (
        f"<tr><td>0</td><td>1.4</td><td>red</td><td>{expected}</td></tr>"
        in panel.predict.answer.value
    )


def test_predict_with_nothing_deployed_says_what_to_do(versions, make_panel):
    panel = make_panel()
    panel.predict.predict.click()
    assert panel.log.errors == [
        "Predict failed: Nothing is deployed: deploy a model in the Deploy tab first."
    ]


def test_typed_values_survive_tab_switches_and_new_deployments(deployed, classifier):
    panel = deployed
    fill(panel, [6.7, 3.0, 5.2, 2.3])
    fields = panel.predict.fields
    panel.tab.selected_index = 2  # the Predict tab re-reads the registry
    panel.tab.selected_index = 0
    panel.tab.selected_index = 2
    assert panel.predict.fields is fields
    assert [f.value for f in fields] == ["6.7", "3.0", "5.2", "2.3"]
    panel.deploy.target.value = "iris:1"
    panel.deploy.name.value = "second"
    panel.deploy.deploy.click()
    panel.deploy.wait(timeout=90)
    assert panel.predict.deployment.value == "second"  # a new deployment is offered and picked
    panel.predict.deployment.value = "iris"
    assert panel.predict.fields is not fields  # another deployment: its own form
    panel.predict.deployment.value = "iris"
    fill(panel, [6.7, 3.0, 5.2, 2.3])
    fields = panel.predict.fields
    panel.refresh()
    assert panel.predict.fields is fields
    assert [f.value for f in fields] == ["6.7", "3.0", "5.2", "2.3"]
