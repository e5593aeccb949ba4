import maas_nb


def test_exported_members():
    # The supported public surface; changing it is a deliberate, changelogged act.
    assert maas_nb.__all__ == [
        "Deployment",
        "DeploymentRecord",
        "MaasError",
        "Model",
        "ModelVersion",
        "Registry",
        "Run",
        "__version__",
        "delete_model",
        "delete_version",
        "deploy",
        "deployments",
        "drift",
        "exceptions",
        "experiment",
        "feedback",
        "get",
        "list_models",
        "list_runs",
        "list_versions",
        "load",
        "load_ipython_extension",
        "log",
        "predict",
        "prediction_log",
        "promote",
        "register",
        "registry",
        "remove_alias",
        "rollback",
        "set_alias",
        "stop_server",
        "traffic",
        "training_run",
        "ui",
        "undeploy",
        "update",
    ]
    for name in maas_nb.__all__:
        assert hasattr(maas_nb, name), name
