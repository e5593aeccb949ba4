"""The Runs tab lists pipeline runs, newest first, with status and parameters."""


def test_runs_tab_lists_pipeline_runs_with_status_parameters_and_errors(
    registry, make_panel, classifier
):
    # The statuses maas_nb.pipelines.run writes: "running", then "finished" or "failed".
    store = registry.store
    store.create_pipeline_run(
        "a" * 32,
        "train",
        notebook="notebooks/train.ipynb",
        notebook_digest="sha256:0",
        parameters={"C": 0.5, "max_iter": 100},
    )
    store.end_pipeline_run("a" * 32, status="finished", output_digest=None, error=None)
    store.create_pipeline_run(
        "b" * 32,
        "train",
        notebook="notebooks/train.ipynb",
        notebook_digest="sha256:0",
        parameters={"C": -1},
    )
    store.end_pipeline_run(
        "b" * 32,
        status="failed",
        output_digest=None,
        error={"cell": 3, "exception": "ValueError", "message": "C must be positive"},
    )
    store.create_pipeline_run(
        "c" * 32,
        "sweep",
        notebook="notebooks/sweep.ipynb",
        notebook_digest="sha256:1",
        parameters={},
    )
    registry.register(classifier, "iris", lineage={"pipeline_run": "a" * 32})
    panel = make_panel()
    shown = panel.runs.table.value
    for header in ("run", "notebook", "status", "parameters", "versions", "took", "error"):
        assert f"<th>{header}</th>" in shown
    assert (
        "<td>aaaaaaaaaaaa</td><td>train</td><td>notebooks/train.ipynb</td><td>finished</td>"
        "<td>C=0.5, max_iter=100</td><td>iris:1</td>" in shown
    )
    assert "<td>failed</td><td>C=-1</td><td>-</td>" in shown
    assert "<td>cell 3: ValueError: C must be positive</td>" in shown
    assert (
        "<td>cccccccccccc</td><td>sweep</td><td>notebooks/sweep.ipynb</td><td>running</td>" in shown
    )
    # newest first
    assert shown.index("cccccccccccc") < shown.index("bbbbbbbbbbbb") < shown.index("aaaaaaaaaaaa")


def test_switching_to_the_runs_tab_rereads_the_registry(registry, make_panel):
    panel = make_panel()
    assert "No pipeline runs yet" in panel.runs.table.value
    registry.store.create_pipeline_run(
        "d" * 32, "later", notebook="n.ipynb", notebook_digest="sha256:2", parameters={}
    )
    panel.tab.selected_index = panel.tabs.index(panel.runs)
    assert "<td>later</td>" in panel.runs.table.value


def test_more_runs_reads_the_next_page_and_shows_who_ran_them(registry, make_panel, monkeypatch):
    from maas_nb.notebook.ui.paging import PAGE

    monkeypatch.setenv("MAAS_USER", "ada")
    made = [
        registry.start_pipeline_run("nightly", notebook="n.ipynb", source=b"{}").id[:12]
        for _ in range(PAGE + 3)
    ]
    panel = make_panel()
    shown = panel.runs.table.value
    assert "<th>by</th>" in shown
    assert f"<td>{made[-1]}</td><td>nightly</td><td>n.ipynb</td><td>running</td>" in shown
    assert shown.count("<td>ada</td>") == PAGE and made[2] not in shown
    assert panel.runs.more.layout.display is None
    panel.runs.more.click()
    shown = panel.runs.table.value
    assert shown.count("<td>ada</td>") == PAGE + 3
    assert shown.index(made[-1]) < shown.index(made[2]) < shown.index(made[0])
    assert panel.runs.more.layout.display == "none"
    # A refresh keeps every run More showed.
    panel.runs.refresh()
    assert panel.runs.table.value.count("<td>ada</td>") == PAGE + 3
