from bot.commands.cli import main

main()
