"The API entry point (`api.main`) and the Datasette explorer files (`api/datasette/`)."
