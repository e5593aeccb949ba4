"""The lean baseline a careful user writes by hand: FastAPI, ``async def``, orjson, and the
model called inline on the event loop.

    MAAS_BENCH_MODELS=/path/dir uvicorn lean_app:app --app-dir bench
Serves POST /models/{name}/invocations with {"instances": [[...]]} -> {"predictions": [...]}
for every ``NAME.skops`` (``model.predict(x)``) and ``NAME.keras`` (``model(x)``, Keras's
direct call, since ``model.predict`` costs tens of milliseconds a call) in the directory.
"""

import os
from pathlib import Path

import numpy as np
import orjson
from fastapi import FastAPI, Request, Response

models = {}
for path in Path(os.environ["MAAS_BENCH_MODELS"]).iterdir():
    if path.suffix == ".skops":
        import skops.io as sio

        model = sio.load(path, trusted=sio.get_untrusted_types(file=path))
        models[path.stem] = model.predict
    elif path.suffix == ".keras":
        import keras

        model = keras.saving.load_model(path)
        models[path.stem] = lambda x, model=model: np.asarray(model(x, training=False))

app = FastAPI()


@app.post("/models/{name}/invocations")
async def predict(name: str, request: Request) -> Response:
    x = np.asarray(
        orjson.loads(await request.body())["instances"],
        dtype=np.float32 if name == "keras" else np.float64,
    )
    body = orjson.dumps({"predictions": models[name](x).tolist()})
    return Response(body, media_type="application/json")
