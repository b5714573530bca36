"""What a HelmRelease deploys: its chart rendered by Helm's engine (from this repository or the
chart cache), or the objects its values describe, and what could not be seen; plus the routes
operators create from custom resources."""
from scanner.inventory.charts.crs import cr_routes
from scanner.inventory.charts.kustomize_charts import helm_chart_objects
from scanner.inventory.charts.model import (HOW_HELM, HOW_OPAQUE, HOW_VALUES, ChartSettings, Gap, Provenance,
                                            ReleaseObjects)
from scanner.inventory.charts.release import release_name, release_objects
from scanner.inventory.charts.render import api_versions_of, close_workers

__all__ = ["HOW_HELM", "api_versions_of", "close_workers", "HOW_OPAQUE", "HOW_VALUES", "ChartSettings", "Gap", "Provenance", "ReleaseObjects",
           "cr_routes", "helm_chart_objects", "release_name", "release_objects"]
