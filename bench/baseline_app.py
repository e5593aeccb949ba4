"""Today's baseline a user would write by hand: FastAPI calling model.predict per request.

    MAAS_BENCH_MODELS=/path/dir uvicorn baseline_app:app --app-dir bench
Serves POST /models/{name}/invocations with {"instances": [[...]]} -> {"predictions": [...]}
for every ``NAME.skops`` and ``NAME.keras`` in the directory. A sync ``def`` with a
pydantic body: FastAPI runs it on its thread pool.
"""

import os
from pathlib import Path

import numpy as np
import skops.io as sio
from fastapi import FastAPI
from pydantic import BaseModel

models = {}
for path in Path(os.environ["MAAS_BENCH_MODELS"]).iterdir():
    if path.suffix == ".skops":
        models[path.stem] = sio.load(path, trusted=sio.get_untrusted_types(file=path))
    elif path.suffix == ".keras":
        import keras

        models[path.stem] = keras.saving.load_model(path)

app = FastAPI()


class Instances(BaseModel):
    instances: list[list[float]]


@app.post("/models/{name}/invocations")
def predict(name: str, body: Instances) -> dict:
    return {"predictions": models[name].predict(np.asarray(body.instances)).tolist()}
