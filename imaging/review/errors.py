"""The one error review services raise: a stable ``code`` for the viewer and tests, a ``message``
in the request's language for people."""


class ReviewError(Exception):
    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message

    def __str__(self) -> str:
        return str(self.message)
