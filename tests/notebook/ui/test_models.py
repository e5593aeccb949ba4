"""The Models tab: the versions table, details, aliases and comparison drive the registry."""

import re

import maas_nb


def test_table_lists_every_version_with_aliases_metrics_flavor_size_and_created(
    versions, make_panel
):
    panel = make_panel()
    shown = panel.models.table.value
    for header in ("model", "version", "aliases", "metrics", "flavor", "size", "by", "created"):
        assert f"<th>{header}</th>" in shown
    assert f"<td>{maas_nb.registry().get('iris:1').created_by}</td>" in shown
    assert "<td>production</td>" in shown
    assert "accuracy=0.95" in shown and "accuracy=0.9 f1=0.8" in shown
    assert "<td>sklearn</td>" in shown and "KiB" in shown and "UTC" in shown
    assert panel.models.version.options == ("iris:1", "iris:2")


def test_selecting_a_version_shows_its_signature_and_lineage(versions, make_panel):
    panel = make_panel()
    panel.models.version.value = "iris:1"
    detail = panel.models.detail.value
    assert "Model version iris:1" in detail
    assert "4 features of float64" in detail
    assert (
        "<th style='text-align:left'>notebook</th><td><code>notebooks/train.ipynb</code>" in detail
    )
    assert versions[0].digest in detail  # verbose card: digest, size, created, run
    panel.models.version.value = "iris:2"
    assert "train.ipynb" not in panel.models.detail.value
    assert "production" in panel.models.detail.value


def test_set_and_remove_alias_from_the_panel(versions, make_panel):
    panel = make_panel()
    panel.models.version.value = "iris:1"
    panel.models.alias.value = "staging"
    panel.models.set_alias.click()
    assert maas_nb.get("iris@staging").version == 1
    assert "<td>staging</td>" in panel.models.table.value
    assert "iris@staging" in panel.deploy.target.options  # other tabs see it too
    assert panel.log.last == "iris@staging -> version 1"

    panel.models.remove_alias.click()
    assert "staging" not in maas_nb.registry().get_model("iris").aliases
    assert panel.log.last == "Removed iris@staging (was version 1)"


def test_alias_errors_land_in_the_log_and_change_nothing(versions, make_panel, capsys):
    panel = make_panel()
    panel.models.alias.value = ""
    panel.models.set_alias.click()
    assert panel.log.errors[-1] == (
        "Set alias failed: Type an alias first (for example production), then Set alias."
    )
    panel.models.alias.value = "no such"
    panel.models.set_alias.click()
    assert panel.log.errors[-1].startswith("Set alias failed: ")
    assert "no such" in panel.log.errors[-1]
    panel.models.alias.value = "nonexistent"
    panel.models.remove_alias.click()
    assert panel.log.errors[-1].startswith("Remove alias failed: ")
    assert dict(maas_nb.registry().get_model("iris").aliases) == {"production": 2}
    assert "Set alias failed" in panel.log.widget.value  # visible in the panel
    assert capsys.readouterr().out == ""


def test_compare_two_versions_side_by_side(versions, make_panel):
    panel = make_panel()
    assert (panel.models.compare_a.value, panel.models.compare_b.value) == ("iris:1", "iris:2")
    panel.models.compare.click()
    shown = panel.models.comparison.value
    assert "<th>iris:1</th><th>iris:2</th><th>difference</th>" in shown
    assert "<tr><td>accuracy</td><td>0.9</td><td>0.95</td><td>+0.05</td></tr>" in shown
    assert "<tr><td>f1</td><td>0.8</td><td>-</td><td></td></tr>" in shown
    assert re.findall(r'<g id="(maas-bar-[^"]+)">', shown) == [
        "maas-bar-iris:1-accuracy",
        "maas-bar-iris:1-f1",
        "maas-bar-iris:2-accuracy",
        "maas-bar-iris:2-f1",
    ]


def test_the_selected_version_shows_the_history_of_the_run_that_made_it(
    versions, make_panel, classifier
):
    with maas_nb.training_run("iris") as run:
        for step in range(3):
            maas_nb.log(step=step, loss=1 / (step + 1), reward=float(step))
        made = run.complete(classifier, register=True).version
    panel = make_panel()
    panel.models.version.value = made.uri
    detail = panel.models.detail.value
    assert re.findall(r'<g id="(maas-series-[^"]+)">', detail) == [
        "maas-series-step-loss",
        "maas-series-step-reward",
    ]
    panel.models.version.value = "iris:1"  # registered without a run: no chart
    assert "<svg" not in panel.models.detail.value


def test_an_empty_registry_says_what_to_do(make_panel):
    panel = make_panel()
    assert "No models registered yet" in panel.models.table.value
    panel.models.compare.click()
    assert panel.log.errors == ["Compare failed: Pick two versions to compare."]


def test_the_tab_opens_on_the_newest_version_and_follows_new_ones_until_a_pick(
    make_panel, classifier
):
    # The table lists zebra after apple, but apple:1 was registered last.
    maas_nb.register(classifier, "zebra")
    maas_nb.register(classifier, "apple")
    panel = make_panel()
    assert panel.models.version.options == ("apple:1", "zebra:1")
    assert panel.models.version.value == "apple:1"
    assert "Model version apple:1" in panel.models.detail.value
    assert (panel.models.compare_a.value, panel.models.compare_b.value) == ("zebra:1", "apple:1")

    maas_nb.register(classifier, "zebra")  # trained in another cell while the panel is open
    panel.refresh()
    assert panel.models.version.value == "zebra:2"
    assert "Model version zebra:2" in panel.models.detail.value
    # Compared with the version before it of the same model.
    assert (panel.models.compare_a.value, panel.models.compare_b.value) == ("zebra:1", "zebra:2")

    panel.models.version.value = "apple:1"  # the person's pick stays put
    maas_nb.register(classifier, "zebra")
    panel.refresh()
    assert panel.models.version.value == "apple:1"
    assert panel.models.compare_b.value == "zebra:3"  # not picked by the person: follows


def test_more_versions_reads_the_next_page_newest_first(registry, make_panel):
    """A registry with many versions opens on a page of the newest; More reads older ones
    (the one paging mechanism the Runs tab uses too)."""
    from maas_nb.notebook.ui.paging import PAGE
    from tests.registry.bulk import fill_sqlite

    fill_sqlite(str(registry.home / "registry.db"), runs=0, versions=PAGE + 3)
    panel = make_panel()
    shown = panel.models.table.value
    assert shown.count("<tr><td>model-") == PAGE
    newest_uri = f"model-{(PAGE + 2) % 10:02d}:{(PAGE + 2) // 10 + 1}"  # bulk.version_rows
    assert panel.models.version.value == newest_uri
    assert "model-00:1" not in panel.models.version.options
    assert panel.models.more.layout.display is None
    panel.models.more.click()
    shown = panel.models.table.value
    assert shown.count("<tr><td>model-") == PAGE + 3
    assert shown.index("<td>model-02</td><td>6</td>") < shown.index("<td>model-00</td><td>1</td>")
    assert "model-00:1" in panel.models.version.options
    assert panel.models.more.layout.display == "none"
    panel.models.refresh()  # keeps every version More showed
    assert panel.models.table.value.count("<tr><td>model-") == PAGE + 3
