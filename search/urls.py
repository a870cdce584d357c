"""The site's pages, one list per domain, under one namespace (`search:`)."""

from search.banks import urls as banks_urls
from search.collection import urls as collection_urls
from search.dashboard import urls as dashboard_urls
from search.evaluation import urls as evaluation_urls
from search.exchanges import urls as exchanges_urls
from search.images import urls as images_urls
from search.ingest import urls as ingest_urls
from search.lookback import urls as lookback_urls
from search.queries import urls as queries_urls
from search.reindex import urls as reindex_urls
from search.review import urls as review_urls
from search.teams import urls as teams_urls
from search.webhooks import urls as webhooks_urls

app_name = "search"
urlpatterns = [
    *collection_urls.urlpatterns,
    *teams_urls.urlpatterns,
    *queries_urls.urlpatterns,
    *images_urls.urlpatterns,
    *review_urls.urlpatterns,
    *dashboard_urls.urlpatterns,
    *reindex_urls.urlpatterns,
    *evaluation_urls.urlpatterns,
    *webhooks_urls.urlpatterns,
    *exchanges_urls.urlpatterns,
    *lookback_urls.urlpatterns,
    *ingest_urls.urlpatterns,
    *banks_urls.urlpatterns,
]
