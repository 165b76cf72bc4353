"""What every corel-sklearn estimator shares: the link from its HTML repr to its API page."""

# The documentation site; setup.cfg's project_urls["Documentation"] names the same address.
DOCS_URL = "https://corel-sklearn.github.io/corel-sklearn/"


class DocLinkMixin:
    """Points the "?" icon of the estimator's HTML repr (Jupyter) at its page in our API docs.

    scikit-learn's repr links to ``_doc_link_template`` filled by
    ``_doc_link_url_param_generator`` for classes whose module starts with
    ``_doc_link_module``; subclasses defined elsewhere get no link, as in scikit-learn.
    """

    _doc_link_module = "corel_sklearn"
    _doc_link_template = DOCS_URL + "generated/corel_sklearn.{estimator_name}.html"

    def _doc_link_url_param_generator(self):
        return {"estimator_name": type(self).__name__}
