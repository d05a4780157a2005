"""Work in several threads at the same moment, for the tests of races: each thread has its own
database connection, as each request of a server or each worker has."""

import threading
from collections.abc import Callable, Sequence

from django.db import connection


def at_once(work: Callable, arguments: Sequence) -> list:
    """``work(argument)`` for each argument, each in a thread of its own, all released together;
    their results in the order of the arguments. An exception in a thread is raised here once
    every thread has ended."""
    barrier = threading.Barrier(len(arguments))
    results: list = [None] * len(arguments)
    errors: list[Exception] = []

    def run(index: int, argument) -> None:
        try:
            barrier.wait()
            results[index] = work(argument)
        except Exception as error:  # raised below, in the test's thread
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=pair) for pair in enumerate(arguments)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return results
