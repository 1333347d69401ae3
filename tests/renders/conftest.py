from tests.viggle_fixtures import *  # noqa: F403
