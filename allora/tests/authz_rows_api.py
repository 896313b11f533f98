"""Authorization matrix rows for the pages of the API issue (merged by
allora/tests/test_authorization.py): the profile with its API tokens, and the admins' import
pages. The API's own routes are checked operation by operation in test_api_matrix.py."""

from allora.tests.authz import ADMIN, ADMIN_POST


def _alice_token(objs):
    """A token of alice's: only she may revoke it (anyone else: 404)."""
    from allora.models import ApiToken

    token, _secret = ApiToken.issue(objs["alice"], name="RMM sync")
    return {"pk": token.pk}


def _import_job(objs):
    """An import waiting for the worker (its progress page answers 200 while it runs)."""
    from agreements.models import ImportJob

    job = ImportJob.objects.create(
        created_by=objs["admin"], file_name="big.json", file_path="imports/pending/x.json", size=1
    )
    return {"pk": job.pk}


ROWS = {
    "profile": (None, (302, 200, 200, 200, 200)),
    "api_token_revoke": (_alice_token, (302, 404, 200, 404, 404)),
    "agreement_import": (None, ADMIN),
    "agreement_import_job": (_import_job, ADMIN),
    "agreement_import_progress": (_import_job, ADMIN),
    "agreement_import_confirm": (_import_job, ADMIN_POST),
}

# carol (customer A's billing contact) where she differs from alice: alice's token is not hers.
NON_SIGNER = {"api_token_revoke": 404}
