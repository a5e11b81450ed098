from heplearn.errors import ConfigError, DataError, HeplearnError, SchemaError


def test_message_has_what_where_why_and_fix() -> None:
    err = DataError(
        "tree 'x' not found", "file.root", "the available TTrees are a, b", "use --tree"
    )
    assert (
        err.message == "tree 'x' not found in file.root: the available TTrees are a, b; use --tree"
    )
    assert str(err) == err.message


def test_hierarchy_lets_callers_catch_every_user_error() -> None:
    assert issubclass(SchemaError, DataError)
    assert issubclass(ConfigError, HeplearnError)
