DROP INDEX users_directory_user_name;
