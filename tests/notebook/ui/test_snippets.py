"""The Deploy tab's Python snippet: compact (a row of features fills lines), and valid Python."""

import ast

from maas_nb.notebook.ui.snippets import WIDTH, literal, python_snippet

URL = "http://127.0.0.1:8765/v2/models/digits/infer"


def body(data, shape):
    return {"inputs": [{"name": "input", "shape": shape, "datatype": "FP64", "data": data}]}


def test_a_64_feature_sample_takes_three_lines_not_sixty_four():
    snippet = python_snippet(URL, body([0] * 64, [1, 64]))
    assert snippet == (
        "import httpx\n"
        "\n"
        "response = httpx.post(\n"
        '    "http://127.0.0.1:8765/v2/models/digits/infer",\n'
        "    json={\n"
        '        "inputs": [\n'
        "            {\n"
        '                "name": "input",\n'
        '                "shape": [1, 64],\n'
        '                "datatype": "FP64",\n'
        '                "data": [\n'
        f"                    {'0, ' * 22}0,\n"
        f"                    {'0, ' * 22}0,\n"
        f"                    {'0, ' * 17}0,\n"
        "                ],\n"
        "            },\n"
        "        ],\n"
        "    },\n"
        ")\n"
        'print(response.json()["outputs"][0]["data"])'
    )
    assert max(map(len, snippet.splitlines())) <= WIDTH
    ast.parse(snippet)


def test_rows_keep_a_line_each_and_the_literal_reads_back_as_the_body():
    rows = [[0.5, 1.5, 2.5], [3.5, 4.5, 5.5]]
    request = body(rows, [2, 3])
    assert literal(request, width=120) == (
        '{"inputs": [{"name": "input", "shape": [2, 3], "datatype": "FP64", '
        '"data": [[0.5, 1.5, 2.5], [3.5, 4.5, 5.5]]}]}'
    )
    narrow = literal(request, width=40)
    assert "\n                [0.5, 1.5, 2.5],\n                [3.5, 4.5, 5.5],\n" in narrow
    wide_rows = [[float(i)] * 30 for i in range(3)]
    for shown in (narrow, literal(body(wide_rows, [3, 30]))):
        assert max(map(len, shown.splitlines())) <= WIDTH
    assert ast.literal_eval(narrow) == request
    assert ast.literal_eval(literal(body(wide_rows, [3, 30]))) == body(wide_rows, [3, 30])
    texts = {"instances": ['it\'s "quoted"', "naïve", True, None]}
    assert '        "naïve",\n' in literal(texts, width=10)
    assert ast.literal_eval(literal(texts, width=10)) == texts


def test_with_a_token_the_snippet_reads_it_from_the_environment():
    snippet = python_snippet(URL, body([0] * 4, [1, 4]), token_env="MAAS_TOKEN")
    assert snippet.startswith("import os\n\nimport httpx\n\n")
    assert '    headers={"Authorization": "Bearer " + os.environ["MAAS_TOKEN"]},\n)\n' in snippet
    ast.parse(snippet)
