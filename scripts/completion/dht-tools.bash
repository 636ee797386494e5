# bash completion for dht-tools: each tool's options and subcommands, read
# from its own --help, and file names after the options that take a file.
_dht_tools()
{
    local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]} words
    case $prev in
        --config | --db | --state | -r | --rules | --policy | --cafile | --cert | --key | --password-file | \
            --token-file | --prom-file | --spool | --plot | --test)
            mapfile -t COMPREPLY < <(compgen -f -- "$cur")
            return ;;
        --capath)
            mapfile -t COMPREPLY < <(compgen -d -- "$cur")
            return ;;
    esac
    if [[ $cur == -* ]]; then
        words=$("$1" --help 2>/dev/null | grep -oE -- '--[a-z][-a-z0-9]*' | sort -u)
    else
        words=$("$1" --help 2>/dev/null | sed -n '/^Subcommands:/,$p' | awk 'NR > 1 && /^  [a-z]/ {print $1}')
    fi
    mapfile -t COMPREPLY < <(compgen -W "$words" -- "$cur")
}
complete -F _dht_tools dht-sub dht-record dht-rules dht-stats dht-escalate dht-export-influx \
    dht-export-graphite dht-sensor-sim dht-status
