DROP FUNCTION IF EXISTS gatehouse_open_journal(BIGINT, TEXT);
