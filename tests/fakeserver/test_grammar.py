"""The IMAP grammar: typed arguments for every command and exact BAD texts."""

from __future__ import annotations

import datetime as dt

import pytest

from inboxlab.fakeserver.errors import CommandFailed, ProtocolError, ScenarioError
from inboxlab.fakeserver.imap.command_specs import COMMANDS
from inboxlab.fakeserver.imap.mutf7 import decode as decode_mutf7
from inboxlab.fakeserver.imap.mutf7 import encode as encode_mutf7
from inboxlab.fakeserver.imap.syntax.commands import (
    All,
    And,
    AppendArgs,
    AuthenticateArgs,
    Command,
    CopyArgs,
    Credentials,
    Date,
    EnableArgs,
    ExpungeArgs,
    FetchArgs,
    FetchAttr,
    Flag,
    Header,
    IdArgs,
    ListArgs,
    MailboxArgs,
    Malformed,
    ModSeq,
    NoArgs,
    Not,
    Or,
    QResync,
    RenameArgs,
    SearchArgs,
    Section,
    SelectArgs,
    SeqSet,
    SequenceSet,
    Size,
    StatusArgs,
    StoreArgs,
    StoreMode,
    Text,
    UidSet,
)
from inboxlab.fakeserver.imap.syntax.grammar import parse_command
from inboxlab.fakeserver.imap.syntax.reader import CommandReader


def parse(line: str | bytes) -> Command:
    raw = line.encode() if isinstance(line, str) else line
    reader = CommandReader(commands=COMMANDS)
    reader.feed(raw + b"\r\n")
    while (event := reader.next_event()) is not None:
        if isinstance(event, Command):
            return event
        if isinstance(event, Malformed):
            raise event.error
    raise AssertionError(f"no command from {raw!r}")


def error_of(line: str | bytes) -> str:
    with pytest.raises(ProtocolError) as caught:
        parse(line)
    return caught.value.text


# -- simple commands ----------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["CAPABILITY", "NOOP", "LOGOUT", "STARTTLS", "CHECK", "CLOSE", "UNSELECT", "IDLE",
             "NAMESPACE"],
)
def test_commands_without_arguments(name: str) -> None:
    assert parse(f"t1 {name.lower()}") == Command("t1", name, NoArgs(), raw_size=len(name) + 5)
    assert error_of(f"t1 {name} x") == f"{name} expects 0 arguments, got 1"


def test_login_astrings_and_hidden_password() -> None:
    command = parse('A1 LOGIN "fred \\"the\\" user" p]ss')
    assert command.args == Credentials('fred "the" user', "p]ss")
    assert "p]ss" not in repr(command)


def test_authenticate_with_and_without_initial_response() -> None:
    assert parse("A1 AUTHENTICATE plain").args == AuthenticateArgs("PLAIN")
    assert parse("A1 AUTHENTICATE PLAIN =").args == AuthenticateArgs("PLAIN", "")
    args = parse("A1 AUTHENTICATE PLAIN AHVzZXIAcGFzcw==").args
    assert args == AuthenticateArgs("PLAIN", "AHVzZXIAcGFzcw==")
    assert "AHVz" not in repr(args)
    assert error_of("A1 AUTHENTICATE PLAIN AHV*") == (
        "AUTHENTICATE: initial response is not base64"
    )


def test_enable_id_mailbox_commands() -> None:
    assert parse("A1 ENABLE condstore QRESYNC").args == EnableArgs(("CONDSTORE", "QRESYNC"))
    assert parse("A1 ID NIL").args == IdArgs(None)
    assert parse('A1 ID ("name" "mutt" "os" NIL)').args == IdArgs(
        (("name", "mutt"), ("os", None))
    )
    assert parse("A1 ID ()").args == IdArgs(())
    assert parse("A1 CREATE inBox").args == MailboxArgs("INBOX")
    assert parse('A1 DELETE "Archive/2024"').args == MailboxArgs("Archive/2024")
    assert parse("A1 SUBSCRIBE &AMk-t&AOk-").args == MailboxArgs("&AMk-t&AOk-")  # mUTF-7 as sent
    assert parse("A1 RENAME inbox Old").args == RenameArgs("INBOX", "Old")


def test_copy_move_expunge() -> None:
    assert parse("A1 UID MOVE 1:3,7 Trash").args == CopyArgs(SequenceSet.of((1, 3), (7, 7)),
                                                              "Trash")
    command = parse("A1 copy 2 inbox")
    assert (command.name, command.uid, command.args) == ("COPY", False,
                                                         CopyArgs(SequenceSet.of((2, 2)), "INBOX"))
    assert parse("A1 EXPUNGE").args == ExpungeArgs(None)
    uid_expunge = parse("A1 UID EXPUNGE 4:*")
    assert uid_expunge.uid and uid_expunge.args == ExpungeArgs(SequenceSet.parse("*:4"))


# -- sequence sets -------------------------------------------------------------------


def test_sequence_set_resolve_and_contains_without_expanding() -> None:
    seq = SequenceSet.parse("7:9,1:3,4,*,12:*")
    assert seq.resolve(20) == ((1, 4), (7, 9), (12, 20))
    assert seq.resolve(10) == ((1, 4), (7, 12))  # 12:* with * = 10 is 10:12
    assert seq.resolve(0) == ((1, 4), (7, 9))  # no last message in an empty mailbox
    assert seq.contains(15, 20) and not seq.contains(5, 20) and seq.contains(11, 10)
    huge = SequenceSet.parse("1:*")
    assert huge.resolve(1_000_000) == ((1, 1_000_000),)
    assert huge.count(1_000_000) == 1_000_000 and huge.contains(999_999, 1_000_000)
    assert list(SequenceSet.parse("3,1:2").values(5)) == [1, 2, 3]
    assert str(seq) == "7:9,1:3,4,*,12:*"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("0", "invalid sequence set '0': numbers start at 1"),
        ("1:", "invalid sequence set '1:'"),
        ("a:b", "invalid sequence set 'a:b'"),
        ("*:*:*", "invalid sequence set '*:*:*'"),
        ("1:*:3", "invalid sequence set '1:*:3'"),
        ("1,,2", "invalid sequence set '1,,2'"),
        ("4294967296", "invalid sequence set '4294967296': 4294967296 is above 4294967295"),
        ("$", "SEARCHRES '$' sequence sets are not supported"),
    ],
)
def test_invalid_sequence_sets(text: str, message: str) -> None:
    assert error_of(f"A1 FETCH {text} FLAGS") == f"FETCH: {message}"


# -- FETCH ---------------------------------------------------------------------------


def test_fetch_macros_single_items_and_uid_added() -> None:
    fast = parse("A1 FETCH 1 fast").args
    assert isinstance(fast, FetchArgs)
    assert [a.name for a in fast.attrs] == ["FLAGS", "INTERNALDATE", "RFC822.SIZE"]
    full = parse("A1 FETCH 1 FULL").args
    assert isinstance(full, FetchArgs) and [a.label for a in full.attrs][-2:] == ["ENVELOPE",
                                                                                 "BODY"]
    uid = parse("A1 UID FETCH 1:* FLAGS").args
    assert isinstance(uid, FetchArgs) and [a.name for a in uid.attrs] == ["FLAGS", "UID"]


def test_fetch_sections_partials_and_labels() -> None:
    args = parse(
        "A1 FETCH 1 (BODY.PEEK[HEADER.FIELDS (from \"To\")] BODY[]<0.2048> BODY[1.2.MIME] "
        "body[TEXT] BODY[1.HEADER.FIELDS.NOT (X-A)] BINARY.PEEK[1]<10.5> BINARY.SIZE[2] "
        "RFC822.HEADER MODSEQ)"
    ).args
    assert isinstance(args, FetchArgs)
    first = args.attrs[0]
    assert first == FetchAttr("BODY", Section((), "HEADER.FIELDS", ("FROM", "TO")), None, True)
    assert [a.label for a in args.attrs] == [
        "BODY[HEADER.FIELDS (FROM TO)]", "BODY[]<0>", "BODY[1.2.MIME]", "BODY[TEXT]",
        "BODY[1.HEADER.FIELDS.NOT (X-A)]", "BINARY[1]<10>", "BINARY.SIZE[2]", "RFC822.HEADER",
        "MODSEQ",
    ]
    assert args.attrs[1].partial == (0, 2048)
    assert [a.sets_seen for a in args.attrs] == [False, True, True, True, True, False, False,
                                                 False, False]


def test_fetch_changedsince_vanished() -> None:
    args = parse("A1 UID FETCH 1:* (FLAGS) (CHANGEDSINCE 12345 VANISHED)").args
    assert isinstance(args, FetchArgs) and (args.changed_since, args.vanished) == (12345, True)
    assert error_of("A1 FETCH 1:* FLAGS (CHANGEDSINCE 1 VANISHED)") == (
        "FETCH: VANISHED is only allowed in UID FETCH"
    )
    assert error_of("A1 UID FETCH 1:* FLAGS (VANISHED)") == (
        "UID FETCH: VANISHED requires CHANGEDSINCE"
    )


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("A1 FETCH 1 FOO", "FETCH: unknown attribute 'FOO'"),
        ("A1 FETCH 1 (FLAGS ALL)", "FETCH: macro ALL cannot be used inside a list"),
        ("A1 FETCH 1 (FLAGS", "FETCH: unbalanced parentheses: missing ')' after fetch attributes"),
        ("A1 FETCH 1 (FLAGS))", "FETCH: unexpected ')' after the arguments"),
        ("A1 FETCH 1 ()", "FETCH: empty fetch attribute list"),
        ("A1 FETCH 1 BODY[MIME]", "FETCH: MIME needs a part number (e.g. BODY[1.MIME])"),
        ("A1 FETCH 1 BODY[HEADER.FIELDS ()]", "FETCH: empty header list after HEADER.FIELDS"),
        ("A1 FETCH 1 BODY[1.FOO]", "FETCH: invalid section text 'FOO'"),
        ("A1 FETCH 1 BODY[0]", "FETCH: section part 0 is out of range"),
        ("A1 FETCH 1 BODY[TEXT", "FETCH: invalid section: expected ']', found end of line"),
        ("A1 FETCH 1 BODY[]<5>", "FETCH: expected '.' and an octet count in the partial, "
                                 "found '>'"),
        ("A1 FETCH 1 BODY[]<0.0>", "FETCH: partial octet count 0 is out of range"),
        ("A1 FETCH 1 BINARY[1.TEXT]", "FETCH: invalid section 'TEXT]'"),
        ("A1 FETCH 1 BODY.PEEK", "FETCH: BODY.PEEK needs a section, e.g. BODY.PEEK[]"),
        ("A1 FETCH 1 FLAGS[1]", "FETCH: FLAGS takes no section"),
        ("A1 FETCH 1", "FETCH: missing fetch attributes"),
        ("A1 FETCH 1 FLAGS (FOO 1)", "FETCH: unknown fetch modifier 'FOO'"),
    ],
)
def test_fetch_errors(line: str, message: str) -> None:
    assert error_of(line) == message


# -- STORE ---------------------------------------------------------------------------


def test_store_forms() -> None:
    assert parse("A1 STORE 1 +FLAGS.SILENT (\\SEEN $Junk)").args == StoreArgs(
        SequenceSet.of((1, 1)), StoreMode.ADD, ("\\Seen", "$Junk"), silent=True
    )
    assert parse("A1 UID STORE 1:* (UNCHANGEDSINCE 7) -FLAGS \\Deleted \\flagged").args == (
        StoreArgs(SequenceSet.parse("1:*"), StoreMode.REMOVE, ("\\Deleted", "\\Flagged"),
                  unchanged_since=7)
    )
    assert parse("A1 STORE 2 FLAGS ()").args == StoreArgs(SequenceSet.of((2, 2)),
                                                          StoreMode.REPLACE, ())
    assert error_of("A1 STORE 1 +FLAGZ (\\Seen)") == "STORE: unknown store item '+FLAGZ'"
    assert error_of("A1 STORE 1 FLAGS (\\Recent)") == (
        "STORE: \\Recent cannot be set by a client"
    )


# -- SEARCH --------------------------------------------------------------------------


def test_search_tree() -> None:
    args = parse(
        'A1 UID SEARCH RETURN (MIN COUNT) CHARSET utf-8 OR FROM "bob smith" NOT (SEEN '
        "SINCE 1-Feb-2024) UID 1:5 HEADER x-mailer \"\" LARGER 100 NEW KEYWORD $Work 2,4:* "
        'SENTBEFORE "09-Mar-2023" MODSEQ "/flags/\\\\draft" all 620162338 BODY x TEXT y OLD'
    ).args
    assert args == SearchArgs(
        And((
            Or(Header("FROM", "bob smith", address=True),
               Not(And((Flag("\\Seen"), Date("SINCE", dt.date(2024, 2, 1)))))),
            UidSet(SequenceSet.of((1, 5))),
            Header("X-MAILER", ""),
            Size("LARGER", 100),
            And((Flag("\\Recent"), Flag("\\Seen", False))),
            Flag("$Work"),
            SeqSet(SequenceSet.parse("2,4:*")),
            Date("BEFORE", dt.date(2023, 3, 9), sent=True),
            ModSeq(620162338, "/flags/\\draft", "all"),
            Text("BODY", "x"),
            Text("TEXT", "y"),
            Not(Flag("\\Recent")),
        )),
        charset="utf-8",
        returns=("MIN", "COUNT"),
    )


def test_search_single_key_and_classic_form() -> None:
    assert parse("A1 SEARCH all").args == SearchArgs(All())
    assert parse("A1 SEARCH UNSEEN").args == SearchArgs(Flag("\\Seen", False))
    assert parse("A1 SEARCH RETURN () ALL").args == SearchArgs(All(), returns=())


def test_search_literal_in_declared_charset() -> None:
    line = b"A1 SEARCH CHARSET ISO-8859-1 SUBJECT {4+}\r\ncaf\xe9"
    assert parse(line).args == SearchArgs(Header("SUBJECT", "café"), "ISO-8859-1")


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("A1 SEARCH", "SEARCH: missing search criteria"),
        ("A1 SEARCH FOO", "SEARCH: unknown search key 'FOO'"),
        ("A1 SEARCH SINCE 31-Feb-2024", "SEARCH: invalid SINCE date '31-Feb-2024': no such day"),
        ("A1 SEARCH ON 1-Foo-2024", "SEARCH: invalid month 'Foo' (expected Jan..Dec)"),
        ("A1 SEARCH BEFORE yesterday", "SEARCH: invalid BEFORE date 'yesterday' "
                                       "(expected dd-Mon-yyyy)"),
        ("A1 SEARCH OR SEEN", "SEARCH: expected a space and a second search key after OR, "
                              "found end of line"),
        ("A1 SEARCH (SEEN", "SEARCH: unbalanced parentheses: missing ')' after search keys"),
        ("A1 SEARCH ()", "SEARCH: empty parenthesized search key"),
        ("A1 SEARCH RETURN (SAVE) ALL", "SEARCH: SEARCHRES (RETURN SAVE) is not supported"),
        ("A1 SEARCH LARGER x", "SEARCH: expected size, found 'x'"),
        ("A1 SEARCH " + "NOT " * 1001 + "ALL", "SEARCH: search criteria nested too deeply"),
        ("A1 SEARCH SUBJECT \"a\\b\"", "SEARCH: invalid escape in quoted SUBJECT value: "
                                       "only \\\\ and \\\" allowed"),
        ("A1 SEARCH SUBJECT \"abc", "SEARCH: unterminated quoted string in SUBJECT value"),
    ],
)
def test_search_errors(line: str, message: str) -> None:
    assert error_of(line) == message


# -- mailbox-shaped commands ---------------------------------------------------------


def test_select_examine_forms() -> None:
    assert parse("A1 SELECT inbox").args == SelectArgs("INBOX")
    assert parse("A1 EXAMINE Drafts (CONDSTORE)").args == SelectArgs("Drafts", condstore=True)
    args = parse("A1 SELECT INBOX (QRESYNC (67890007 20050715194045000 41,43:211,214:541 "
                 "(1:4 2:5)))").args
    assert args == SelectArgs(
        "INBOX", True,
        QResync(67890007, 20050715194045000, SequenceSet.parse("41,43:211,214:541"),
                (SequenceSet.of((1, 4)), SequenceSet.of((2, 5)))),
    )
    assert parse("A1 SELECT INBOX (QRESYNC (1 2))").args == SelectArgs(
        "INBOX", True, QResync(1, 2)
    )
    assert error_of("A1 SELECT") == "SELECT expects 1 mailbox argument, got 0"
    assert error_of("A1 SELECT a b c") == (
        "SELECT expects 1 mailbox argument and an optional parameter list, got 3"
    )
    assert error_of("A1 SELECT a (FOO)") == "SELECT: unknown select parameter 'FOO'"


def test_list_forms() -> None:
    assert parse('A1 LIST "" *').args == ListArgs("", ("*",))
    assert parse('A1 LSUB "" %/%').args == ListArgs("", ("%/%",))
    assert parse("A1 XLIST \"\" \"*\"").args == ListArgs("", ("*",))
    args = parse('A1 LIST (SUBSCRIBED special-use) "" ("INBOX" %) '
                 "RETURN (CHILDREN STATUS (MESSAGES UNSEEN))").args
    assert args == ListArgs("", ("INBOX", "%"), frozenset({"SUBSCRIBED", "SPECIAL-USE"}),
                            frozenset({"CHILDREN", "STATUS"}), ("MESSAGES", "UNSEEN"), True)
    assert parse('A1 LIST () "" *').args == ListArgs("", ("*",), extended=True)
    assert parse('A1 LIST "" * RETURN ()').args == ListArgs("", ("*",), extended=True)
    assert error_of('A1 LIST ""') == (
        "LIST expects 2 arguments (reference and mailbox pattern), got 1"
    )
    assert error_of('A1 LIST (FOO) "" *') == "LIST: unknown selection option 'FOO'"
    assert error_of('A1 LIST "" * RETURN (BAR)') == "LIST: unknown return option 'BAR'"
    assert error_of('A1 LSUB (SUBSCRIBED) "" *') == (
        "LSUB expects 2 arguments (reference and mailbox pattern), got 3"
    )


def test_status() -> None:
    assert parse("A1 STATUS inbox (messages UIDNEXT highestmodseq SIZE)").args == StatusArgs(
        "INBOX", ("MESSAGES", "UIDNEXT", "HIGHESTMODSEQ", "SIZE")
    )
    assert error_of("A1 STATUS INBOX (FOO)") == "STATUS: unknown status item 'FOO'"
    assert error_of("A1 STATUS INBOX ()") == "STATUS: empty status item list"


def test_append_forms() -> None:
    args = parse(b'A1 APPEND Sent (\\Seen $Sent) " 5-Mar-2024 09:08:07 -0130" {3+}\r\nabc').args
    assert args == AppendArgs(
        "Sent", ("\\Seen", "$Sent"),
        dt.datetime(2024, 3, 5, 9, 8, 7, tzinfo=dt.timezone(-dt.timedelta(hours=1, minutes=30))),
        b"abc",
    )
    assert parse(b"A1 APPEND INBOX {1+}\r\nx").args == AppendArgs("INBOX", (), None, b"x")
    assert error_of('A1 APPEND INBOX "hello"') == (
        "APPEND: message must be a literal, found '\"hello\"'"
    )
    assert error_of(b'A1 APPEND INBOX "5-Mar-2024" {1+}\r\nx').startswith(
        "APPEND: invalid date-time"
    )


# -- command level -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("A1 FOO", "unknown command FOO"),
        ("A1 UID LOGIN x y", "UID: LOGIN cannot follow UID"),
        ("A1", "missing command name after tag 'A1'"),
        ("A1  NOOP", "missing command name after tag 'A1'"),
        ("A(1 NOOP", "invalid tag 'A(1'"),
        ("+ NOOP", "missing or invalid tag"),
        ("A1 LOGIN a", "LOGIN expects 2 arguments (user name and password), got 1"),
        ("A1 LOGIN {abc} b", "LOGIN: invalid literal announcement '{abc}'"),
        ('A1 LOGIN "a\x01" b', "LOGIN: control character in quoted user name"),
        ("A1 RENAME a", "RENAME expects 2 mailbox arguments, got 1"),
        ("A1 ID (\"a\")", "ID: expected a space and an ID field value, found ')'"),
        ("A1 ENABLE", "ENABLE: missing capability"),
    ],
)
def test_command_level_errors(line: str, message: str) -> None:
    assert error_of(line) == message


def test_errors_carry_the_tag() -> None:
    with pytest.raises(ProtocolError) as caught:
        parse_command(b"T9 FETCH 1 FOO", commands=COMMANDS)
    assert caught.value.tag == "T9"
    assert caught.value.response("T9") == b"T9 BAD FETCH: unknown attribute 'FOO'\r\n"


def test_error_tree_renders_its_lines() -> None:
    failed = CommandFailed("Mailbox does not exist", code="trycreate")
    assert failed.response("A1") == b"A1 NO [TRYCREATE] Mailbox does not exist\r\n"
    assert not failed.transient and CommandFailed("busy", code="INUSE").transient
    assert ProtocolError("line\r\n* OK injected").response("A2") == (
        b"A2 BAD line * OK injected\r\n"
    )
    scenario = ScenarioError("unknown key 'x'", file="s.toml", location="line 3")
    assert scenario.response("A3") == b"A3 NO [SERVERBUG] s.toml:line 3: unknown key 'x'\r\n"


def test_every_command_is_one_entry_of_the_command_table() -> None:
    """Parser, states, gate and handler of a command are one ``CommandSpec`` (issue 17)."""
    fetch = COMMANDS["FETCH"]
    assert "selected" in fetch.states and "authenticated" not in fetch.states
    assert fetch.uid and parse_command(b"a UID FETCH 1 UID", commands=COMMANDS).uid
    assert COMMANDS["LOGIN"].states == frozenset({"not_authenticated"})
    assert not COMMANDS["LOGIN"].uid
    assert all(name == spec.name for name, spec in COMMANDS.items())


def test_extra_space_is_named() -> None:
    assert error_of("A1 LOGIN  a b") == "LOGIN: extra space before user name"


@pytest.mark.parametrize(
    ("encoded", "decoded"),
    [("Entw&APw-rfe", "Entwürfe"), ("&-A&-", "&A&"), ("&ZeVnLIqe-", "日本語"), ("plain", "plain"),
     ("~peter/mail/&U,BTFw-/&ZeVnLIqe-", "~peter/mail/台北/日本語")],
)
def test_modified_utf7(encoded: str, decoded: str) -> None:
    assert decode_mutf7(encoded) == decoded
    assert encode_mutf7(decoded) == encoded


@pytest.mark.parametrize("bad", ["&", "a&b", "&Jjo!-", "&AGE-", "&A-", "Caf\u00e9"])
def test_modified_utf7_rejects_garbage(bad: str) -> None:
    with pytest.raises(ValueError, match="invalid modified UTF-7"):
        decode_mutf7(bad)
