"""The webhook service: ``create_app`` builds the Flask app; each area is one blueprint."""

from __future__ import annotations

from typing import Any

from flask import Flask

from plugin.config import Settings, load_settings
from plugin.instance import ensure_instance_dir


def create_app(config: Settings | dict[str, Any] | None = None) -> Flask:
    """Build the app from Settings (or overrides for ``load_settings``).

    The app holds the settings in ``app.config["SETTINGS"]``; the event store and queue are opened
    lazily by ``webhooks.runtime`` so that importing the app never touches disk.
    """
    settings = config if isinstance(config, Settings) else load_settings(config)
    ensure_instance_dir(settings.instance_dir)  # 0700: it holds the stores, keys and secrets
    app = Flask(__name__, instance_path=str(settings.instance_dir.resolve()))
    app.config["SETTINGS"] = settings
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes

    from . import errors, freshdesk, ops, runtime, zendesk
    from . import admin, classify_api, form

    runtime.init_app(app)
    errors.init_app(app)
    # --- blueprint registration: one line per area --------------------------------------------
    app.register_blueprint(ops.bp)
    app.register_blueprint(zendesk.bp)
    app.register_blueprint(freshdesk.bp)
    app.register_blueprint(classify_api.bp)
    app.register_blueprint(form.bp)
    app.register_blueprint(admin.bp)
    return app
