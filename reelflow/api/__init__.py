"""The HTTP and WebSocket API: validates, authorises, stores inputs and triggers deployments.

It never renders. Build the app with `reelflow.api.app.create_app` (uvicorn:
``reelflow.api.app:create_app --factory``).
"""
